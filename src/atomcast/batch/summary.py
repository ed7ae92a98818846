"""A finished run in plain words, from its manifest: what the progress reporters and the
command line print (no terminal library needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def duration(seconds: float) -> str:
    """``H:MM:SS``."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


#: Error reasons shown per channel under the summary table (all are in the manifest).
ERROR_REASONS_SHOWN = 3


def channel_errors(manifest: Mapping[str, Any]) -> dict[str, int]:
    """Profiles whose channel ended in ``status: error``, per channel (zeros left out)."""
    channels: Mapping[str, Mapping[str, Any]] = manifest.get("channels", {})
    return {name: int(c.get("error", 0)) for name, c in channels.items() if c.get("error")}


def error_lines(manifest: Mapping[str, Any]) -> list[str]:
    """Per channel with errors: the count and the most frequent error reasons."""
    lines: list[str] = []
    channels: Mapping[str, Mapping[str, Any]] = manifest.get("channels", {})
    for name, count in channel_errors(manifest).items():
        lines.append(f"{name}: {count:,} profile(s) with status error")
        reasons: Mapping[str, int] = channels[name].get("error_reasons") or {}
        for reason, times in list(reasons.items())[:ERROR_REASONS_SHOWN]:
            lines.append(f"  {times:,} x {reason}")
        if len(reasons) > ERROR_REASONS_SHOWN:
            lines.append(f"  ... {len(reasons) - ERROR_REASONS_SHOWN} more in manifest.json")
    return lines


__all__ = ["ERROR_REASONS_SHOWN", "channel_errors", "duration", "error_lines"]
