"""Built-in image encoders (group ``rnn_pipeline.image_encoders``): ``small_cnn`` trained from
scratch, and ``resnet18``/``resnet34``/``resnet50`` that load torchvision weight files."""
