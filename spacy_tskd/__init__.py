"""spacy-tskd: cross-lingual NER by teacher-student distillation for spaCy.

Importing this package is deliberately light (no torch, no transformers): spaCy
imports plugin entry points while building pipelines, and an error here would
break every ``spacy.blank()`` in the environment. Heavy modules are imported
by the factories and architectures that need them.
"""

__version__ = "0.1.0"
