"""Test-session settings.

OpenMP threads that spin-wait (torch's default) slow small torch operations 10-30x whenever another
process holds a core; passive waiting costs nothing measurable on an idle machine. Set before torch
is imported by any test module.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
