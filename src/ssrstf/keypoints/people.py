"""Several people in one keypoint file: their tracks (`load_people`, `People`).

COCO results, AlphaPose/Halpe JSON and OpenPose files can list several people per frame.
`load_people` reads every detection (`ssrstf.keypoints.readers.read_detections`) and, when
some frame holds more than one person, links them into tracks
(`ssrstf.keypoints.tracking.track_people`). Each track is then lifted like a single-person input
(`ssrstf.pipeline.run.lift_people`) and written into its own folder, with everyone together
beside them (`ssrstf.outputs.people.write_people_outputs`).

People are numbered by their first frame, then from left to right. Inputs with at most one
person per frame (and videos: the MediaPipe detector tracks a single person) keep the
single-person layout of `ssrstf.outputs.folder.write_outputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ssrstf.keypoints.readers import read_detections
from ssrstf.keypoints.tracking import MIN_TRACK_FRAMES, Track, track_people


@dataclass(frozen=True)
class People:
    """The tracks of a multi-person keypoint file.

    Attributes:
        tracks: One per person, in output order.
        dropped: Tracks dropped as shorter than the minimum.
        num_frames: Frames of the file.
        source: What was read (`ssrstf.keypoints.keypoints2d.Detections.source`).
    """

    tracks: list[Track]
    dropped: int
    num_frames: int
    source: str


def load_people(
    source: str | Path,
    fmt: str = "auto",
    *,
    image_size: tuple[int, int] | None = None,
    skeleton_name: str | None = None,
    fps: float | None = None,
    min_track_frames: int = MIN_TRACK_FRAMES,
) -> People | None:
    """The people of a keypoint file, or None when no frame lists more than one person.

    Videos return None without being opened (the detector is single-person).

    Raises:
        KeypointFormatError: The file cannot be read (as
            `ssrstf.keypoints.readers.read_keypoints`).
        ValueError: No track is long enough (`ssrstf.keypoints.tracking.track_people`).
    """
    from ssrstf.keypoints import video

    path = Path(source)
    if fmt == "video" or (fmt == "auto" and video.is_video(path)):
        return None
    detections = read_detections(
        path, fmt, skeleton_name=skeleton_name, image_size=image_size, fps=fps
    )
    if detections.max_people <= 1:
        return None
    tracks, dropped = track_people(detections, min_frames=min_track_frames)
    return People(tracks, dropped, detections.num_frames, detections.source)
