"""The 2D side: keypoints in, one `Keypoints2D` per person, ready for the lifter.

A reader per keypoint format (`coco`, `openpose`, `blazepose`, `npy`; `readers` detects the
format and dispatches), the video detector (`video`, `native_logs`), live streams (`streams`),
tracking several people (`tracking`, `people`), the built-in sample (`sample`), and the step
that makes any input ready for the model (`inputs`, `prepare`).
"""
