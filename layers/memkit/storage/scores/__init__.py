"""Scores domain: evaluation results. The port and shapes live in ``base``; adapters
(``libsql``, ``dynamodb``) are imported only by whoever selects them."""

from memkit.storage.scores.base import Score, ScorePage, ScoresStorage

__all__ = ["Score", "ScorePage", "ScoresStorage"]
