"""Mail out: the reference sender (email.drafts -> SMTP) and an embedded .eml SMTP sink.

    run_sender(settings, stop=None, max_messages=None, on_sent=None) -> SenderStats
    smtp_sink(folder) -> context manager yielding SinkInfo(host, port, folder)
"""

from mail.message import build_message
from mail.sender import Backoff, SenderStats, run_sender
from mail.smtp_sink import EmlWriter, SinkInfo, smtp_sink

__all__ = ["Backoff", "EmlWriter", "SenderStats", "SinkInfo", "build_message", "run_sender",
           "smtp_sink"]
