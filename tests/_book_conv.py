"""The book's chapter-7 im2col convolution and max pooling, hand-written forward and backward (its
``common/util.py`` and ``common/layers.py`` formulas, rewritten here as the reference the graph must equal).

Layout: ``col`` has one row per (image, output row, output column) and one column per (channel, kernel row,
kernel column). Pooling's backward sends each window's gradient to ``np.argmax`` of the window: the first
maximum at ties. Padding holds zeros, as the book's ``np.pad`` does.
"""

import numpy as np


def out_side(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def im2col(images, kh, kw, stride=1, pad=0):
    n, c, h, w = images.shape
    oh, ow = out_side(h, kh, stride, pad), out_side(w, kw, stride, pad)
    padded = np.pad(images, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, kh, kw, oh, ow))
    for dy in range(kh):
        for dx in range(kw):
            col[:, :, dy, dx, :, :] = padded[:, :, dy:dy + stride * oh:stride, dx:dx + stride * ow:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)


def col2im(col, shape, kh, kw, stride=1, pad=0):
    n, c, h, w = shape
    oh, ow = out_side(h, kh, stride, pad), out_side(w, kw, stride, pad)
    col = col.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    padded = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for dy in range(kh):
        for dx in range(kw):
            padded[:, :, dy:dy + stride * oh:stride, dx:dx + stride * ow:stride] += col[:, :, dy, dx, :, :]
    return padded[:, :, pad:h + pad, pad:w + pad]


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        fn, _, kh, kw = self.W.shape
        n, _, h, w = x.shape
        oh, ow = out_side(h, kh, self.stride, self.pad), out_side(w, kw, self.stride, self.pad)
        self.x = x
        self.col = im2col(x, kh, kw, self.stride, self.pad)
        self.col_W = self.W.reshape(fn, -1).T
        out = np.dot(self.col, self.col_W) + self.b
        return out.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        fn, c, kh, kw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(fn, c, kh, kw)
        return col2im(np.dot(dout, self.col_W.T), self.x.shape, kh, kw, self.stride, self.pad)


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        n, c, h, w = x.shape
        oh, ow = out_side(h, self.pool_h, self.stride, self.pad), out_side(w, self.pool_w, self.stride, self.pad)
        rows = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad).reshape(-1, self.pool_h * self.pool_w)
        self.x = x
        self.arg_max = np.argmax(rows, axis=1)
        return np.max(rows, axis=1).reshape(n, oh, ow, c).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        area = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, area))
        dmax[np.arange(self.arg_max.size), self.arg_max.ravel()] = dout.ravel()
        dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
