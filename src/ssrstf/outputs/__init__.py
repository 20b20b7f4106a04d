"""Outputs, one module per format: npz and JSON (`npz_json`), BVH (`bvh`, on the rig of
`rig`), glTF (`gltf`), the mesh's glTF (`mesh_gltf`), the viewer page (`viewer`), renders
(`drawing`, `render`, `mesh_render`), and the folders that gather them (`folder`, `people`,
`mesh_files`)."""
