"""Language understanding of the intent service: `understand(text)` and its parts."""

from services.intent.nlu.entities import Entities
from services.intent.nlu.understand import Understanding, understand

__all__ = ["Entities", "Understanding", "understand"]
