"""The error type and the tokenizer shared by label and field selector parsing.

The tokenizer follows k8s.io/apimachinery/pkg/labels' lexer: whitespace separates tokens; the
symbols `! != ( ) , = == > <` are tokens on their own (longest match); every other run of
characters is an identifier, except the keywords `in` and `notin`.

Invariants: pure; `tokenize` never fails and always ends its list with one `Token.END`.
"""

from __future__ import annotations

from enum import Enum


class SelectorError(ValueError):
    """A selector could not be parsed or is not valid; `message` says what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Token(Enum):
    IDENTIFIER = "identifier"
    IN = "in"
    NOT_IN = "notin"
    BANG = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = ">"
    LESS_THAN = "<"
    OPEN = "("
    CLOSE = ")"
    COMMA = ","
    END = "end of string"


_SYMBOLS: dict[str, Token] = {
    str(t.value): t for t in Token if t.value in {"!", "=", "==", "!=", ">", "<", "(", ")", ","}
}
_SPECIAL = frozenset("!=(),><")
_KEYWORDS = {"in": Token.IN, "notin": Token.NOT_IN}


def tokenize(text: str) -> list[tuple[Token, str]]:
    """Split selector text into (token, text) pairs, ending with (Token.END, "")."""
    tokens: list[tuple[Token, str]] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in _SPECIAL:
            pair = text[pos : pos + 2]
            symbol = pair if pair in _SYMBOLS else char
            tokens.append((_SYMBOLS[symbol], symbol))
            pos += len(symbol)
        else:
            end = pos
            while end < len(text) and not text[end].isspace() and text[end] not in _SPECIAL:
                end += 1
            word = text[pos:end]
            tokens.append((_KEYWORDS.get(word, Token.IDENTIFIER), word))
            pos = end
    tokens.append((Token.END, ""))
    return tokens
