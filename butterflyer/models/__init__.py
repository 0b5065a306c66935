"""Model architectures by name, pretrained weights, and saved-model artifacts."""

from butterflyer.models.artifact import load_model, save_model
from butterflyer.models.classifier import ButterflyClassifier, DualOutput, ServingOutputs
from butterflyer.models.meta import DataConfig, ModelMeta
from butterflyer.models.registry import create_model, data_config_for, list_models, register_model

__all__ = ["ButterflyClassifier", "DataConfig", "DualOutput", "ModelMeta", "create_model", "data_config_for",
           "list_models", "load_model", "register_model", "save_model",
           "ServingOutputs"]
