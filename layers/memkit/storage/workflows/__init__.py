"""Workflows domain: run snapshots. The port and shapes live in ``base``; adapters (``libsql``,
``dynamodb``) are imported only by whoever selects them."""

from memkit.storage.workflows.base import WorkflowRun, WorkflowRunPage, WorkflowsStorage

__all__ = ["WorkflowRun", "WorkflowRunPage", "WorkflowsStorage"]
