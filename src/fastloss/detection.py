"""fastloss.detection: see SPEC.md for the losses this module holds."""
from __future__ import annotations

__all__: list = []
