"""Prompt and answer templates: named constants, filled only through ``fill``."""
from .templates import (ABSTENTION, ATTRIBUTION, NESTED_QUOTE_MARKS, QUOTE_MARKS, QUOTE_NEW_SOURCE, QUOTE_SAME_SOURCE,
                        UNDATED, fill)

__all__ = ["ABSTENTION", "ATTRIBUTION", "NESTED_QUOTE_MARKS", "QUOTE_MARKS", "QUOTE_NEW_SOURCE", "QUOTE_SAME_SOURCE", "UNDATED", "fill"]
