"""Runnable demos of the book's examples (Deep Learning from Scratch, ch. 5) on graphgrad: shopping bills, gradient check, MNIST training."""
