"""reprolib: a rerunnable reproducibility study of MemNet, RED-Net, NLRN and MemoryNet.

Data flows one way: datasets -> ``data`` -> ``degrade`` -> ``models`` -> ``metrics``
-> ``results/`` CSVs, compared with the papers' transcribed claims in ``results/claims``.
"""

__version__ = "0.1.0"
