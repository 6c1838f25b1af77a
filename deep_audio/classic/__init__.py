"""The classic path: hand-crafted features, scikit-learn classifiers, skops model files.

The seed's calls::

    from deep_audio.classic import (directory_feature_extraction,
                                    extract_features_and_train, file_classification)
"""

from deep_audio.classic.classifiers import CLASSIFIER_TYPES, make_pipeline
from deep_audio.classic.classify import (
    ClassicModel,
    classify_file,
    file_classification,
    find_classic_model,
)
from deep_audio.classic.model_file import (
    TRUSTED_TYPES,
    load_classic_model,
    resolve_classic_model_path,
    save_classic_model,
)
from deep_audio.classic.scatter import FeatureScatter, plot_feature_space
from deep_audio.classic.training import (
    ClassicTrainingResult,
    extract_features_and_train,
    train_classifier,
)
from deep_audio.features.handcrafted import directory_feature_extraction

__all__ = ["CLASSIFIER_TYPES", "ClassicModel", "ClassicTrainingResult", "FeatureScatter",
           "TRUSTED_TYPES",
           "classify_file", "plot_feature_space",
           "directory_feature_extraction", "extract_features_and_train", "file_classification",
           "find_classic_model", "load_classic_model", "make_pipeline",
           "resolve_classic_model_path", "save_classic_model", "train_classifier"]
