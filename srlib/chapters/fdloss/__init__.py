"""The FD-loss chapter (``book/fdloss/``): Fine-grained Dynamic Loss for Accurate Single-Image
Super-Resolution (Wang, Zhang, Lei; ``shared/papers/001_e17931bcbf6b61cf.txt``).

One module per notebook, with the notebook's stem:

* :mod:`.experiments` — the notebooks' profile-dependent defaults (no training runs yet, so no
  run configs are registered).
* :mod:`.pretrained` — ``pretrained.ipynb``: the document's LapSRN baseline row against the public
  PyTorch port's pretrained x4 network (``../shared/weights/``), evaluated with the book's protocol
  and with the port's own; the x3 row as the LapSRN authors' test code makes it (x4 network, then
  MATLAB bicubic to the x3 size); Fig. 1 (image entropy against PSNR, with a correlation interval);
  and the chapter's first claim rows.

The network is srlib's own LapSRN with the port's options (``srlib.models.lapsrn.PORT_CONFIG``:
bias-free, depth 10, 64 filters, Y channel); the port's weights are loaded by an explicit key table
(``srlib.models.lapsrn.load_port_weights``). The FD loss itself is not implemented yet.
"""
