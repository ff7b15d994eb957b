"""Named exceptions. The edges (CLI, UI) turn them into one human sentence."""


class AssistantError(Exception):
    """Base class: ``str(err)`` is a sentence fit to show a user."""


class InvalidQuestion(AssistantError):
    """The question is empty, too long, or not text."""


class UnreadableFile(AssistantError):
    """A corpus file cannot be read as an article (binary, empty, too large, bad encoding)."""


class IndexUnavailable(AssistantError):
    """The index cannot be opened or written (corrupt, locked, server down)."""


class IndexBusy(IndexUnavailable):
    """Another ingest holds the index lock."""


class ModelUnavailable(AssistantError):
    """The embedding model cannot be loaded offline."""


class InvalidFilter(AssistantError):
    """A filter is malformed or matches no article."""


class LLMUnavailable(AssistantError):
    """The configured chat model cannot be reached or used."""


class InvalidMetadata(AssistantError):
    """Metadata an analyst typed that cannot be saved (an unknown article, a date that is not one)."""


class AuthMisconfigured(AssistantError):
    """The UI's login is half set (a user without a password, or the reverse): the server does not start."""
