"""The colours of a skeleton's sides, one source for every output that draws joints.

Renders (`ssrstf.outputs.drawing`), the GLB skeleton mesh (`ssrstf.outputs.gltf`) and the
viewer page (`ssrstf.outputs.viewer`) colour a joint and its bone by the subject's side.
"""

from __future__ import annotations

from ssrstf.skeleton import Skeleton

LEFT_COLOUR = (30, 144, 255)
"""RGB of bones and joints on the subject's left."""


RIGHT_COLOUR = (230, 40, 40)
"""RGB of bones and joints on the subject's right."""


CENTRE_COLOUR = (255, 190, 0)
"""RGB of midline bones and joints (spine, neck, head)."""


def side_colours(skeleton: Skeleton) -> list[tuple[int, int, int]]:
    """RGB colour per joint, by side."""
    colours = [CENTRE_COLOUR] * skeleton.num_joints
    for joint in skeleton.left_joints:
        colours[joint] = LEFT_COLOUR
    for joint in skeleton.right_joints:
        colours[joint] = RIGHT_COLOUR
    return colours
