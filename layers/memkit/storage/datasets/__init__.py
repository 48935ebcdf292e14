"""Datasets domain: evaluation datasets with versioned items, experiments and their results.
The port and shapes live in ``base``; adapters (``libsql``, ``dynamodb``) are imported only by
whoever selects them."""

from memkit.storage.datasets.base import DatasetsStorage
from memkit.storage.datasets.models import (
    Dataset,
    DatasetItem,
    DatasetItemRevision,
    DatasetVersion,
    Experiment,
    ExperimentResult,
)

__all__ = [
    "Dataset",
    "DatasetItem",
    "DatasetItemRevision",
    "DatasetVersion",
    "DatasetsStorage",
    "Experiment",
    "ExperimentResult",
]
