"""User-facing errors. Anything a user wrote wrong is a SeqcError carrying a source location,
printed by the CLI as `FILE:LINE: message` without a traceback."""


class SourceLoc:
    __slots__ = ("file", "line")

    def __init__(self, file, line):
        self.file = file
        self.line = line

    def __repr__(self):
        return f"{self.file}:{self.line}"

    def to_json(self):
        return [self.file, self.line]


class SeqcError(ValueError):
    """An error in the user's model or script. `loc` (a SourceLoc) says where, when known."""

    def __init__(self, message, loc=None):
        super().__init__(message)
        self.message = message
        self.loc = loc

    def __str__(self):
        if self.loc is not None and self.loc.file:
            return f"{self.loc.file}:{self.loc.line}: {self.message}"
        return self.message


class BuildError(Exception):
    """Building or loading a model library failed: the compiler rejected the generated C (the
    message names the build log, which holds the compiler's output), the build cache is not
    private, or a library does not match its recorded content hash. One line, no traceback."""
