"""A pickle that runs code when it is loaded: what the safe checkpoint loaders must refuse.

``Payload()`` pickles as a call of :func:`record`; loading it with plain ``pickle`` appends to
:data:`EXECUTED`, so a test sees whether the code ran.
"""

#: What the payloads ran, in order (tests clear it first).
EXECUTED: list[str] = []


def record(tag: str) -> str:
    """The code a malicious file would run: append ``tag`` to :data:`EXECUTED`."""
    EXECUTED.append(tag)
    return tag


class Payload:
    """Pickles as a call of :func:`record`."""

    def __reduce__(self):
        return record, ('payload ran',)
