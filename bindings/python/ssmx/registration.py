"""ssmx.registration -- biplanar shape-model fitting (not available yet).

This module mirrors the C++ target ssmx::registration, which has no code yet:
the Ceres fit of a statistical shape model (pose and shape coefficients) to an
AP/LAT X-ray pair, rigid CT-to-X-ray registration and fit quality flags land
with their issue, and their bindings join this module then. Until then it
deliberately defines nothing.
"""

__all__: list = []
