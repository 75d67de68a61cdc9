"""The paper's study on the full data: one resumable runner, its result files and the report (``python -m scripts.study``)."""
