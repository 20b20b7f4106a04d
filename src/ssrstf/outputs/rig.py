"""The animation rig of the BVH and GLB files: one hierarchy, one rest pose, exact motion.

`ssrstf.outputs.bvh.write_bvh` and `ssrstf.outputs.gltf.write_glb` encode the same rig,
fitted here to joint positions in the file's Y-up frame (mm). Forward kinematics of the rig, and
so of both files, gives back every input joint in every frame (up to floating-point rounding),
whatever the poses: rigid or with bone lengths that change from frame to frame.

**Hierarchy** (`rig_hierarchy`). The skeleton's joints, named after them, plus one **helper
node** for each child of a *branching* joint (a joint with several children: in H36M-17 the
pelvis — right hip, left hip, spine — and the thorax — neck, left and right shoulder). The helper
of child ``c`` of ``p`` is named ``"{p}_to_{c}"`` (`HELPER_FORMAT`, e.g. ``pelvis_to_right_hip``,
``thorax_to_neck``), sits between the two with a zero offset from ``p`` and carries the
rotation that aims ``c``'s bone. Without helpers one rotation of the pelvis would have to turn
both hips and the spine at once: with fixed offsets no rotation gives each child its own
direction when the torso's shape changes, and the wrists and ankles at the ends of the chains
land centimetres off. Nodes are numbered joints first (skeleton order), then helpers
(by branching joint, then child); the BVH lists them depth first (`RigHierarchy.order`).

**Rest pose** (`fit_rest`): every rest rotation is the identity, so a node's offset is a vector
in the file's axes: a T-pose (legs down, spine and head up, arms sideways; +X is the subject's
left) with the clip's **mean bone lengths**; the children of a branching joint keep the clip's
mean (Procrustes) shape, turned to match the T-pose; helpers and the root have zero offsets.

**Motion** (`pose_rig`), per frame, local to the parent node (global ``G_n = G_parent · L_n``,
position ``P_n = P_parent + G_parent · T_n``):

* rotations: a branching joint gets the least-squares (Kabsch) rotation of its children's rest
  offsets onto their directions in the frame (the orientation of the hips or the shoulders);
  each helper then adds the minimal rotation (swing, no twist) that aims its child exactly; a
  joint with one child gets the swing that turns its child's rest offset, carried along by the
  parent's rotation, onto the child's direction; a leaf keeps its parent's orientation;
* translations: the root's position (the root motion); for every other joint its offset from
  its parent in the parent's frame, which is its rest offset when the poses are **rigid** (every
  bone's length within `RIGID_TOLERANCE_MM` of its mean: the motion is then rotations and the
  root path only) and otherwise the rest direction with this frame's bone length; helpers stay
  at zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssrstf.skeleton import Skeleton

HELPER_FORMAT = "{parent}_to_{child}"
"""Name of the helper node between a branching joint and one of its children."""

RIGID_TOLERANCE_MM = 1e-3
"""Poses are rigid when no bone's length is farther than this from its mean over the clip."""


# ---------------------------------------------------------------------------------- rotations


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) minimal rotations taking unit vectors ``a`` to unit vectors ``b``."""
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)[..., None, None]
    k = np.zeros((*v.shape[:-1], 3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k -= np.swapaxes(k, -1, -2)
    eye = np.eye(3)
    opposite = c[..., 0, 0] < -1 + 1e-9
    rot = eye + k + k @ k / np.where(opposite[..., None, None], 1.0, 1.0 + c)
    if opposite.any():  # 180° about an axis perpendicular to a
        a_opp = a[opposite]
        helper = eye[np.argmin(np.abs(a_opp), axis=-1)]
        n = np.cross(a_opp, helper)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        rot[opposite] = 2 * n[:, :, None] * n[:, None, :] - eye
    return rot


def kabsch(rest: np.ndarray, posed: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations R minimising ``Σ_i |R rest_i − posed_f,i|²``.

    ``rest`` is (K, 3), ``posed`` (F, K, 3).
    """
    h = np.einsum("ki,fkj->fij", rest, posed)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.broadcast_to(np.eye(3), h.shape).copy()
    fix[:, 2, 2] = d
    return np.swapaxes(vt, -1, -2) @ fix @ np.swapaxes(u, -1, -2)


# ---------------------------------------------------------------------------------- hierarchy


@dataclass(frozen=True)
class RigHierarchy:
    """The nodes of the rig: the skeleton's joints (nodes 0 … J−1), then the helpers.

    Attributes:
        names: Name of each node.
        parents: Parent node of each node (−1 for the root).
        joints: The skeleton joint of each node (a helper's: the child joint it aims).
        num_joints: J, the skeleton's joints; nodes from J on are helpers.
        order: Depth first from the root, children in node order: the BVH's joint order.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    joints: tuple[int, ...]
    num_joints: int
    order: tuple[int, ...]

    @property
    def num_nodes(self) -> int:
        """Joints plus helpers."""
        return len(self.names)

    def is_helper(self, node: int) -> bool:
        """Whether ``node`` is a helper node."""
        return node >= self.num_joints

    def children(self, node: int) -> tuple[int, ...]:
        """The child nodes of ``node``, in node order."""
        return tuple(n for n, p in enumerate(self.parents) if p == node)

    def helper_of(self, joint: int) -> int | None:
        """The helper node above skeleton joint ``joint``, or None."""
        parent = self.parents[joint]
        return parent if parent >= self.num_joints else None


def rig_hierarchy(skeleton: Skeleton) -> RigHierarchy:
    """The rig's nodes for ``skeleton`` (see the module docstring)."""
    names = list(skeleton.joint_names)
    parents = list(skeleton.parents)
    joints = list(range(skeleton.num_joints))
    for parent in range(skeleton.num_joints):
        kids = skeleton.children[parent]
        if len(kids) < 2:
            continue
        for child in kids:
            names.append(
                HELPER_FORMAT.format(
                    parent=skeleton.joint_names[parent], child=skeleton.joint_names[child]
                )
            )
            parents.append(parent)
            joints.append(child)
            parents[child] = len(names) - 1
    if len(set(names)) != len(names):
        raise ValueError(f"helper node names clash with joint names: {names}")
    order, stack = [], [skeleton.root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(reversed([n for n, p in enumerate(parents) if p == node]))
    return RigHierarchy(
        tuple(names), tuple(parents), tuple(joints), skeleton.num_joints, tuple(order)
    )


# ---------------------------------------------------------------------------------- rest pose


def t_pose_directions(skeleton: Skeleton, first: np.ndarray) -> np.ndarray:
    """(J, 3) unit rest direction of the bone ending at each joint, Y-up frame (root: zeros).

    From the body-part labels: a sided joint hanging from a midline joint (hip, shoulder) points
    sideways (+X = subject's left), legs down, arms sideways, torso and head up. Skeletons
    without part labels use the first frame's directions ``first`` (J, 3).
    """
    if not skeleton.parts:
        return first
    side = np.zeros(skeleton.num_joints)
    side[list(skeleton.left_joints)], side[list(skeleton.right_joints)] = 1.0, -1.0
    dirs = np.zeros((skeleton.num_joints, 3))
    for parent, child in skeleton.bones:
        part = skeleton.parts[child]
        if (side[child] != 0 and side[parent] == 0) or part in (3, 4):
            dirs[child] = [side[child], 0.0, 0.0]
        elif part in (1, 2):
            dirs[child] = [0.0, -1.0, 0.0]
        else:
            dirs[child] = [0.0, 1.0, 0.0]
    return dirs


def _group_rest_shape(rest: np.ndarray, posed: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Mean (generalised Procrustes) shape of child offsets ``posed`` (F, K, 3).

    Row lengths are those of ``rest`` (K, 3), and the shape is turned to best match ``rest``.
    """
    lengths = np.linalg.norm(rest, axis=-1, keepdims=True)
    shape = posed[0]
    for _ in range(iterations):
        rot = kabsch(shape, posed)
        shape = np.einsum("fji,fkj->ki", rot, posed) / len(posed)  # mean of Rᵀ posed
        shape *= lengths / np.maximum(np.linalg.norm(shape, axis=-1, keepdims=True), 1e-12)
    return shape @ kabsch(shape, rest[None])[0].T  # orient like the T-pose


def bone_directions(points: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Bone lengths (F, J) and unit directions (F, J, 3) of joint positions (the bone of joint
    j runs from its parent to j; the root's is zero, and so is a zero-length bone's direction)."""
    parents = np.maximum(np.array(skeleton.parents), 0)
    bone = points - points[:, parents]
    bone[:, skeleton.root] = 0.0
    length = np.linalg.norm(bone, axis=-1)
    direction = np.where(length[..., None] > 1e-9, bone / np.maximum(length, 1e-12)[..., None], 0.0)
    return length, direction


@dataclass(frozen=True)
class RigRest:
    """The rest pose of a rig fitted to a clip (`fit_rest`).

    Attributes:
        hierarchy: The nodes.
        offsets: (N, 3) rest offset of each node from its parent node, mm, file axes (rest
            rotations are the identity); zeros for the root and the helpers.
        lengths: (J,) the clip's mean length of the bone ending at each joint (root: 0).
        rigid: Every bone's length stays within `RIGID_TOLERANCE_MM` of ``lengths``: the motion
            needs no translation but the root's.
        skeleton: The skeleton it was fitted for.
    """

    hierarchy: RigHierarchy
    offsets: np.ndarray
    lengths: np.ndarray
    rigid: bool
    skeleton: Skeleton

    def rest_positions(self) -> np.ndarray:
        """(N, 3) rest positions of the nodes relative to the root, mm."""
        positions = np.zeros_like(self.offsets)
        for node in self.hierarchy.order[1:]:
            positions[node] = positions[self.hierarchy.parents[node]] + self.offsets[node]
        return positions


def fit_rest(points: np.ndarray, skeleton: Skeleton) -> RigRest:
    """The rig's rest pose for joint positions ``points`` (F, J, 3), mm, in the file's Y-up axes.

    Needs the whole clip (mean bone lengths, mean torso shapes, rigidity); `pose_rig` then
    takes any block of its frames.
    """
    hierarchy = rig_hierarchy(skeleton)
    length, posed_dir = bone_directions(points, skeleton)
    mean_length = length.mean(0)
    joint_offsets = mean_length[:, None] * t_pose_directions(skeleton, posed_dir[0])
    scaled = mean_length[:, None] * posed_dir  # posed bones with the constant lengths
    for joint in range(skeleton.num_joints):
        kids = list(skeleton.children[joint])
        if len(kids) > 1:
            joint_offsets[kids] = _group_rest_shape(joint_offsets[kids], scaled[:, kids])
    offsets = np.zeros((hierarchy.num_nodes, 3))
    offsets[: skeleton.num_joints] = joint_offsets
    offsets[skeleton.root] = 0.0
    rigid = bool(np.abs(length - mean_length).max() <= RIGID_TOLERANCE_MM)
    return RigRest(hierarchy, offsets, mean_length, rigid, skeleton)


# ------------------------------------------------------------------------------------- motion


def pose_rig(points: np.ndarray, rest: RigRest) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (F, N, 3, 3) and translations (F, N, 3) (mm) of the rig's nodes.

    ``points`` (F, J, 3) are frames of the clip ``rest`` was fitted to (any block of them: frames
    are independent given the rest pose), mm, file axes. The root's translation is its position.
    """
    skeleton, hierarchy = rest.skeleton, rest.hierarchy
    frames, nodes = len(points), hierarchy.num_nodes
    length, posed_dir = bone_directions(points, skeleton)
    glob = np.zeros((frames, nodes, 3, 3))
    local = np.zeros((frames, nodes, 3, 3))
    eye = np.broadcast_to(np.eye(3), (frames, 3, 3))

    def aim(parent_rot: np.ndarray, child: int) -> np.ndarray:
        """The parent's rotation followed by the swing that aims joint ``child``'s bone."""
        if rest.lengths[child] < 1e-9:
            return parent_rot
        current = parent_rot @ (rest.offsets[child] / rest.lengths[child])
        target = np.where(length[:, child, None] > 1e-9, posed_dir[:, child], current)
        return swing(current, target) @ parent_rot

    for node in hierarchy.order:
        parent = hierarchy.parents[node]
        parent_rot = eye if parent < 0 else glob[:, parent]
        if hierarchy.is_helper(node):
            glob[:, node] = aim(parent_rot, hierarchy.joints[node])
        else:
            kids = list(skeleton.children[node])
            if not kids:
                glob[:, node] = parent_rot
            elif len(kids) == 1:
                glob[:, node] = aim(parent_rot, kids[0])
            else:
                scaled = rest.lengths[kids, None] * posed_dir[:, kids]
                glob[:, node] = kabsch(rest.offsets[kids], scaled)
        local[:, node] = np.swapaxes(parent_rot, -1, -2) @ glob[:, node]
    translations = np.broadcast_to(rest.offsets, (frames, nodes, 3)).copy()
    translations[:, skeleton.root] = points[:, skeleton.root]
    if not rest.rigid:
        for joint, parent_joint in enumerate(skeleton.parents):
            if parent_joint < 0:
                continue
            delta = points[:, joint] - points[:, parent_joint]  # helpers sit on the parent joint
            parent_rot = glob[:, hierarchy.parents[joint]]
            translations[:, joint] = np.einsum("fji,fj->fi", parent_rot, delta)
    return local, translations


def forward_kinematics(
    rotations: np.ndarray, translations: np.ndarray, hierarchy: RigHierarchy
) -> np.ndarray:
    """(F, N, 3) node positions from local rotations (F, N, 3, 3) and translations (F, N, 3)."""
    positions = np.zeros(translations.shape)
    glob = np.zeros(rotations.shape)
    for node in hierarchy.order:
        parent = hierarchy.parents[node]
        if parent < 0:
            positions[:, node], glob[:, node] = translations[:, node], rotations[:, node]
        else:
            positions[:, node] = positions[:, parent] + np.einsum(
                "fij,fj->fi", glob[:, parent], translations[:, node]
            )
            glob[:, node] = glob[:, parent] @ rotations[:, node]
    return positions
