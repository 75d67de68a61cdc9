"""Training utilities shared by the teacher (spaCy trainer) and the student loop."""
