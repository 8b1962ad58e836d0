"""Image folders: one sub-folder per identity (`root/<identity>/<image>`), or any tree of unlabelled images.

Identities are numbered in sorted folder-name order, so the same tree always gets
the same labels; sub-folders without images are not identities. `list_images`
reads a tree without labels (for distillation): every image under the root, at
any depth, in sorted path order.

Example:

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "empty"))
    >>> for name in ("bob/1.jpg", "alice/1.jpg", "alice/2.png"):
    ...     os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
    ...     open(os.path.join(root, name), "wb").close()
    >>> files, labels, names = list_identity_folders(root)
    >>> [os.path.relpath(f, root) for f in files], labels, names
    (['alice/1.jpg', 'alice/2.png', 'bob/1.jpg'], [0, 0, 1], ['alice', 'bob'])
"""

import os

from tfmfn.preprocess import IMAGE_SUFFIXES


def list_identity_folders(root):
    """(image paths, integer labels, identity names) of an identity-per-folder tree."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder; give a folder with one sub-folder per identity")
    files, labels, names = [], [], []
    for name in sorted(entry.name for entry in os.scandir(root) if entry.is_dir()):
        folder = os.path.join(root, name)
        images = [file_name for file_name in sorted(os.listdir(folder)) if file_name.lower().endswith(IMAGE_SUFFIXES)]
        if images:
            files.extend(os.path.join(folder, file_name) for file_name in images)
            labels.extend([len(names)] * len(images))
            names.append(name)
    if not files:
        raise ValueError(f"{root}: no images in identity sub-folders (expected {root}/<identity>/<image>)")
    return files, labels, names


def list_images(root):
    """Paths of every image under `root`, at any depth, in sorted order (no labels: folder names are not read).

    Linked folders are followed, each real folder once.

    Example:

        >>> import os, tempfile
        >>> root = tempfile.mkdtemp()
        >>> for name in ("b.png", "x/a.jpg", "x/y/c.bmp", "notes.txt"):
        ...     os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
        ...     open(os.path.join(root, name), "wb").close()
        >>> [os.path.relpath(path, root) for path in list_images(root)]
        ['b.png', 'x/a.jpg', 'x/y/c.bmp']
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder; give a folder of aligned face images")
    files, seen = [], {os.path.realpath(root)}
    for folder, subfolders, names in os.walk(root, followlinks=True):
        kept = []
        for name in sorted(subfolders):
            real = os.path.realpath(os.path.join(folder, name))
            if real not in seen:
                seen.add(real)
                kept.append(name)
        subfolders[:] = kept
        files.extend(os.path.join(folder, name) for name in names if name.lower().endswith(IMAGE_SUFFIXES))
    files.sort()
    if not files:
        raise ValueError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in it or its sub-folders")
    return files
