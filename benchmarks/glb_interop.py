"""Open a GLB written by ssrstf in other programs and compare their joint positions with ours.

Writes a 30-frame clip (random bone directions with jittered lengths, root motion 3 m sideways
and 2 m in depth) with `ssrstf.outputs.gltf.write_glb`, then, for each tool found:

* ``blender`` on PATH: Blender's own glTF importer (File > Import > glTF 2.0) in background
  mode; the armature's bone heads at three frames;
* ``--node-modules DIR`` holding the npm packages ``gltf-validator`` and ``three``: the Khronos
  glTF validator's report, and three.js's ``GLTFLoader`` + ``AnimationMixer``: joint world
  positions at frame 12 and the skinned bone-mesh vertices that sit on joints.

Prints the largest distance (mm) between each tool's joints and the input poses. Nothing is
downloaded here: install the tools yourself (``apt-get install blender python3-numpy``,
``npm install --prefix DIR gltf-validator three``).

Usage: ``python benchmarks/glb_interop.py [--node-modules DIR] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ssrstf.outputs.gltf import write_glb
from ssrstf.skeleton import H36M_17

FPS = 25.0
GLTF_FROM_CAMERA = np.diag([1.0, -1.0, -1.0])

BLENDER_SCRIPT = """
import bpy, json, sys
import numpy
numpy.bool = bool  # Debian's Blender 3.4 glTF add-on still uses this alias (removed in numpy 1.24)
path, out, fps = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.fps = int(float(fps))
bpy.ops.import_scene.gltf(filepath=path)
arm = next(o for o in scene.objects if o.type == "ARMATURE")
action = arm.animation_data.action
start = int(round(action.frame_range[0]))
result = {"bones": len(arm.data.bones), "action": action.name,
          "frame_range": list(action.frame_range), "frames": {}}
for f in (0, 12, 29):
    scene.frame_set(start + f)
    ev = arm.evaluated_get(bpy.context.evaluated_depsgraph_get())
    result["frames"][f] = {b.name: list(ev.matrix_world @ b.head) for b in ev.pose.bones}
json.dump(result, open(out, "w"))
"""

NODE_SCRIPT = """
import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import fs from 'fs';
import validator from 'gltf-validator';
const [path, frame, fps] = process.argv.slice(2);
const bytes = fs.readFileSync(path);
const report = await validator.validateBytes(new Uint8Array(bytes));
const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
new GLTFLoader().parse(buffer, '', (gltf) => {
  const mixer = new THREE.AnimationMixer(gltf.scene);
  mixer.clipAction(gltf.animations[0]).play();
  mixer.setTime(Number(frame) / Number(fps));
  gltf.scene.updateMatrixWorld(true);
  let mesh = null;
  gltf.scene.traverse((o) => { if (o.isSkinnedMesh) mesh = o; });
  const joints = {};
  mesh.skeleton.bones.forEach((b) => {
    const p = new THREE.Vector3(); b.getWorldPosition(p); joints[b.name] = [p.x, p.y, p.z];
  });
  const position = mesh.geometry.attributes.position, v = new THREE.Vector3(), vertices = [];
  for (let i = 0; i < position.count; i++) {
    v.fromBufferAttribute(position, i); mesh.applyBoneTransform(i, v);
    v.applyMatrix4(mesh.matrixWorld); vertices.push([v.x, v.y, v.z]);
  }
  console.log(JSON.stringify({ issues: report.issues, tracks: gltf.animations[0].tracks.length,
                               bones: mesh.skeleton.bones.length, joints, vertices }));
});
"""


def make_clip(frames: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Root-relative poses (camera axes, mm) with varying bone lengths, and a trajectory."""
    rng = np.random.default_rng(0)
    lengths = rng.uniform(100.0, 450.0, H36M_17.num_joints)
    poses = np.zeros((frames, H36M_17.num_joints, 3))
    for joint, parent in enumerate(H36M_17.parents):
        if parent < 0:
            continue
        direction = rng.normal(size=3) + 0.2 * rng.normal(size=(frames, 3)).cumsum(0)
        direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
        poses[:, joint] = poses[:, parent] + lengths[joint] * direction
    poses += rng.normal(scale=4.0, size=poses.shape)
    poses -= poses[:, :1]
    trajectory = np.stack(
        [np.linspace(-1500, 1500, frames), np.full(frames, 200.0), np.linspace(3000, 5000, frames)],
        axis=-1,
    )
    return poses, trajectory


def check_blender(glb: Path, expected: np.ndarray, work: Path) -> None:
    script, out = work / "blender_check.py", work / "blender.json"
    script.write_text(BLENDER_SCRIPT)
    subprocess.run(
        ["blender", "-b", "--factory-startup", "--python", str(script), "--", str(glb), str(out),
         str(FPS)], check=True, capture_output=True,
    )  # fmt: skip
    result = json.loads(out.read_text())
    print(f"blender: {result['bones']} bones, action {result['action']!r}, frames "
          f"{result['frame_range']}")  # fmt: skip
    for frame, bones in result["frames"].items():
        heads = np.array([bones[name] for name in H36M_17.joint_names]) * 1000.0
        as_gltf = np.stack([heads[:, 0], heads[:, 2], -heads[:, 1]], -1)  # Blender is Z up
        error = np.abs(as_gltf - expected[int(frame)]).max()
        print(f"  frame {frame}: bone heads within {error:.2g} mm of the input joints")


def check_node(glb: Path, expected: np.ndarray, modules: Path, work: Path) -> None:
    script = work / "check.mjs"
    script.write_text(NODE_SCRIPT)
    link = work / "node_modules"  # ES modules resolve packages next to the script
    if not link.exists():
        link.symlink_to((modules / "node_modules").resolve(), target_is_directory=True)
    run = subprocess.run(
        ["node", str(script), str(glb), "12", str(FPS)], check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    result = json.loads(run.stdout)
    issues = result["issues"]
    print(f"gltf-validator: {issues['numErrors']} errors, {issues['numWarnings']} warnings, "
          f"{issues['numInfos']} infos, {issues['numHints']} hints")  # fmt: skip
    joints = np.array([result["joints"][name] for name in H36M_17.joint_names]) * 1000.0
    print(f"three.js: {result['bones']} bones, {result['tracks']} tracks; joints at frame 12 "
          f"within {np.abs(joints - expected[12]).max():.2g} mm")  # fmt: skip
    vertices = np.array(result["vertices"]) * 1000.0
    errors = []
    for k, (parent, child) in enumerate(H36M_17.bones):  # 8 faces per bone, apex first / last
        faces = vertices[24 * k : 24 * (k + 1)].reshape(8, 3, 3)
        errors += list(np.linalg.norm(faces[0::2, 0] - joints[parent], axis=-1))
        errors += list(np.linalg.norm(faces[1::2, 2] - joints[child], axis=-1))
    print(f"  skinned bone bases and tips within {max(errors):.2g} mm of their joints")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, help="folder with node_modules/three etc.")
    parser.add_argument("--out", type=Path, help="keep the GLB and scripts here")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="glb_interop_"))
    work.mkdir(parents=True, exist_ok=True)
    poses, trajectory = make_clip()
    glb = write_glb(work / "clip.glb", poses, FPS, trajectory_mm=trajectory, overwrite=True)
    expected = (poses + trajectory[:, None]) @ GLTF_FROM_CAMERA.T
    print(f"wrote {glb} ({glb.stat().st_size} bytes)")
    if shutil.which("blender"):
        check_blender(glb, expected, work)
    else:
        print("blender: not installed, skipped")
    if args.node_modules and shutil.which("node"):
        check_node(glb, expected, args.node_modules, work)
    else:
        print("gltf-validator / three.js: pass --node-modules DIR (and install node), skipped")


if __name__ == "__main__":
    main()
