"""Rebuild GLOBE's training data by distilling teacher VLMs (``globe-distill``).

Modules, each usable alone: :mod:`.teacher` (reading what teachers return), :mod:`.filters`
(the filter funnel, pure functions), :mod:`.inputs` (ground truth and row selection),
:mod:`.pipeline` (async requests), :mod:`.outputs` (resumable files), :mod:`.report`,
:mod:`.cli`. See docs/rebuild_data.md.
"""
from .filters import FilterSettings
from .teacher import TeacherAnswer, parse_teacher_answer

__all__ = ["FilterSettings", "TeacherAnswer", "parse_teacher_answer"]
