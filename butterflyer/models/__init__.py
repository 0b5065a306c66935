"""Model architectures by name, pretrained weights, and saved-model artifacts."""

from butterflyer.models.artifact import load_model, save_model
from butterflyer.models.classifier import ButterflyClassifier, DualOutput, ServingOutputs
from butterflyer.models.factory import (
           create_model,
           data_config_for,
           list_architectures,
           register_architecture,
)
from butterflyer.models.meta import DataConfig, ModelMeta

__all__ = ["ButterflyClassifier", "DataConfig", "DualOutput", "ModelMeta", "create_model", "data_config_for",
           "list_architectures", "load_model", "register_architecture", "save_model",
           "ServingOutputs"]
