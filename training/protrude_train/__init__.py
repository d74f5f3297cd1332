"""Training, export and demo-data tools for Protrude's kidney tumor models.

Volumes are numpy arrays indexed ``vol[z, y, x]`` at 1 mm spacing whose axes run in
the DICOM LPS directions: z toward patient superior, y toward posterior, x toward
patient left. Network tensors use the same order as ``[N, C, D, H, W]``.
"""
