"""Edges of lecturekit.metrics.disentanglement found by mutation testing (make mutation).

Kept apart from test_disentanglement.py, whose slow tests ``--skip-slow`` leaves out.
"""

import numpy as np
import pytest

from lecturekit.metrics import disentanglement as dm


def test_lookup_error_names_the_table():
    with pytest.raises(ValueError, match=r"^z_all must be a 2-D array \(n_samples, dim\); got shape \(3,\)$"):
        dm.lookup(np.zeros(3), lambda f: f)
