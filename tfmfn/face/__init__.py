"""Faces in photos: BlazeFace's boxes (`blazeface`), ONet's five landmarks (`landmarks`), how usable a
face is (`quality`). `tfmfn.align` puts them together into aligned crops.

Example (the alignment template is a frontal face of a 112x112 crop):

    >>> from tfmfn import preprocess
    >>> from tfmfn.face import quality
    >>> round(quality.pose(preprocess.ALIGNMENT_TEMPLATE)["yaw"], 1) + 0.0
    0.0
"""
