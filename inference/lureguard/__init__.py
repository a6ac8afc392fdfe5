"""lureguard: detect grooming and trafficking-recruitment tactics in conversations.

    from lureguard import Detector
    detector = Detector.load()
    result = detector.score_one({"id": "c1", "messages": [{"author": "a", "text": "hi"}]})

Importing lureguard never imports torch and never touches the network.
"""

from .conversation import Conversation, Message, ReadError, validate_conversation
from .detector import Detector, Evidence, LiveConversation, ScanResult
from .reading import read_records
from .scan import scan
from .taxonomy import TACTIC_IDS, TACTICS

__version__ = "0.9.0"  # the release and the shipped model; pyproject.toml and exports read it here
__all__ = ["Conversation", "Detector", "Evidence", "LiveConversation", "Message", "ReadError", "ScanResult",
           "TACTICS", "TACTIC_IDS", "read_records", "scan", "validate_conversation", "__version__"]
