"""Lifting: 2D keypoints of any length to 3D poses (`lifter`: windows, normalisation, flip TTA,
stitching), on torch or ONNX Runtime (`backends`), frame by frame for live streams
(`streaming`), and to a body mesh (`meshes`)."""
