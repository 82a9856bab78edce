"""Studies: published claims checked end to end, as plug-ins listed in :mod:`deepscope.studies.registry`."""
from deepscope.studies.base import Mode, Preset, Study, record
from deepscope.studies.registry import STUDIES, all_studies, get_study
from deepscope.studies.verdict import Evidence, Verdict, check

__all__ = ["STUDIES", "Evidence", "Mode", "Preset", "Study", "Verdict", "all_studies", "check", "get_study",
           "record"]
