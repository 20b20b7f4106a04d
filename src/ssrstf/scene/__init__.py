"""The scene of lifted poses: the root's camera-space path (`trajectory`), the floor and the
Y-up world frame (`world`), a rigid skeleton and motion figures (`rigid`), and the lifted clip
placed in it (`result`)."""
