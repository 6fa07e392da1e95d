"""Positions in a pipeline's joined program -> positions in its YAML file.

The steps of a pipeline are joined into one program, with each constant replaced by
its literal. A SourceMap remembers, for every step, where its text starts in the
joined program, which literals replaced which names, and the document offset of each
character of the step as written (`align`). It moves errors raised for the joined
program (or for one step's text) into the file: the span, the source and the file
name, with the message prefixed by the step it is in.

>>> align("x = 1", "steps: ['x = 1']", 8, 15)    # the quote at offset 8 is skipped
[9, 10, 11, 12, 13, 14]
"""

from __future__ import annotations

from dataclasses import dataclass

from maskdsl.errors import MaskDSLError, Span
from maskdsl.pipeline.yaml_source import Document, YamlNode


@dataclass
class StepSource:
    index: int                      # 0-based step number
    text: str                       # the step as written (the YAML value)
    rewritten: str                  # with constants substituted
    offset: int                     # where `rewritten` starts in the joined program
    substitutions: list             # (new_start, new_end, old_start, old_end), in order
    positions: list | None          # document offset of each character of `text` (+ one past the end)
    node: YamlNode

    def original_offset(self, new: int, is_end: bool = False) -> int:
        """Offset in `text` of offset `new` in `rewritten` (inside a literal: the constant's name)."""
        delta = 0
        for new_start, new_end, old_start, old_end in self.substitutions:
            if new < new_start:
                break
            if new < new_end or (is_end and new == new_end):
                return old_end if is_end else old_start
            delta = new_end - old_end
        return max(0, min(len(self.text), new - delta))

    def document_offset(self, offset: int) -> int | None:
        if self.positions is None:
            return None
        offset = max(0, min(offset, len(self.text)))
        return self.positions[offset] if self.positions[offset] is not None else self.node.start


@dataclass
class SourceMap:
    doc: Document
    steps: list[StepSource]
    program_text: str = ""

    def step_at(self, offset: int) -> StepSource:
        found = self.steps[0]
        for step in self.steps:
            if step.offset <= offset:
                found = step
        return found

    def locate(self, offset: int, is_end: bool = False) -> tuple[StepSource, int]:
        """(step, offset in the step's own text) of an offset of the joined program."""
        step = self.step_at(offset)
        return step, step.original_offset(offset - step.offset, is_end)

    def relocate(self, error: MaskDSLError, step: StepSource | None = None) -> MaskDSLError:
        """A copy of the error with its span moved into the document and its message naming the step.

        The span is in the joined program, or, when `step` is given, in that step's own text
        (errors from parsing one step).
        """
        if error.span is None:
            keeps_source = error.source is None or error.source == self.doc.text
            return error.relocated(filename=error.filename or self.doc.filename,
                                   source=error.source if keeps_source else None)
        last = max(error.span.end, error.span.start + 1)
        if step is not None:
            start, end = error.span.start, last
            in_text = lambda offset: (step, offset)  # noqa: E731
        else:
            step, start = self.locate(error.span.start)
            _, end = self.locate(last, is_end=True)
            in_text = self.locate
        start = max(0, min(start, len(step.text)))
        end = max(start + 1, min(end, len(step.text) + 1))
        template = f"step {step.index + 1}: {error.template}"
        places = {key: self._place(place, in_text) for key, place in error.places.items()}
        if self.doc.text is None:
            return error.relocated(span=Span.at(step.text, start, end), source=step.text, filename=None,
                                   template=template, places=places)
        doc_start = step.document_offset(start)
        doc_end = step.document_offset(end - 1)
        doc_end = doc_start + 1 if doc_end is None or doc_end < doc_start else doc_end + 1
        return error.relocated(span=self.doc.caret_span(doc_start, doc_end), source=self.doc.text,
                               filename=self.doc.filename, template=template, places=places)

    def _place(self, place, in_text):
        """A position a message names (where a bracket was opened), in the document's terms."""
        if not isinstance(place, Span):
            return place
        step, local = in_text(place.start)
        if self.doc.text is None:
            return f"column {local + 1} of step {step.index + 1}"
        return self.doc.span(step.document_offset(local)) or place

    def describe(self, span: Span | None) -> str:
        """Where a span of the joined program is in the document: 'file:line:col' (for messages)."""
        if span is None:
            return ""
        step, start = self.locate(span.start)
        if self.doc.text is None:
            return f"step {step.index + 1}, column {start + 1}"
        return self.doc.where(step.document_offset(start))


def align(value: str, doc: str, start: int, end: int) -> list:
    """Document offset of each character of a YAML scalar's value (None where unknown), + the end.

    The value is found in order inside the scalar's text, skipping what YAML removes:
    indentation, quotes, folded line breaks and a block scalar's header. If something
    else differs (an escape sequence), the rest is unknown and errors there point at the
    start of the step.
    """
    positions, p, started = [], start, False
    for ch in value:
        q = p
        while q < end and not (doc[q] == ch or (ch == " " and doc[q] == "\n")):
            if not (doc[q] in " \t\r\n'\"" or (not started and doc[q] in "|>+-0123456789")):
                q = end
                break
            q += 1
        if q >= end:
            positions.extend([None] * (len(value) - len(positions)))
            break
        positions.append(q)
        p, started = q + 1, True
    positions.append(p if positions and positions[-1] is not None else None)
    return positions
