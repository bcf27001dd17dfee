// This copy's table: each kernel of these sources under its name in `KernelTable`.
//
// This file is compiled once per CPU variant (Kernels = portable; KernelsAVX2, KernelsAVX512 and KernelsAVX512BF16
// link to it), so every variant module exports its own `kernelTable` from this one list.

import KernelsInterface

/// The entry points of this copy of the kernels, which Kernels picks by variant.
package let kernelTable = KernelTable(
    matmulBlock: matmulBlock, attentionBlock: attentionBlock, attentionDirect: attentionDirect,
    rmsNormRows: rmsNormRows, rmsNormAddRows: rmsNormAddRows, softmaxRow: softmaxRow,
    geluTanhMultiplyPairs: geluTanhMultiplyPairRows, ropeRow: ropeRow, dot: dotRow, layerNormRows: layerNormRows,
    addBiasRows: addBiasRows, geluErfRows: geluErfRows, firstTileRows: firstTileRows,
    bfloat16Dot: variantBFloat16Dot)
