"""ssmx.registration -- poses and 2D/3D registration.

Mirrors the C++ target ssmx::registration (registration/include/ssmx/registration).
``Pose`` is the shared similarity transform (world = s R (x - c) + c + t, pose.json
read/write, mTRE). ``register_rigid`` finds the rigid pose of a CT (an
``ssmx.drr.PreparedVolume``, or one bone of it) against X-ray views prepared by
``prepare_view``: NCC or gradient correlation summed over the views, coarse to
fine, Levenberg-Marquardt (Ceres). See docs/rigid_registration.md and
docs/python.md.
"""

from ._core.registration import *  # noqa: F401,F403  (names listed in registration.pyi)
