"""Fine-tuning a recogniser on a person's own labelled images (``hwocr finetune``; needs the
``[train]`` extra: PyTorch and onnx). Nothing here imports torch until it is used."""
