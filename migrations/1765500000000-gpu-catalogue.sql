-- GPU models the node agent recognises from nvidia-smi (src/agent/gpu-names.ts) and the shared
-- name table maps to, which the first catalogue lacked: an agent on such a node could not
-- register it. NVIDIA data-sheet figures as in the first catalogue: dense BF16 tensor TFLOP/s
-- (without sparsity) per GPU and HBM/GDDR bandwidth. The A10G is AWS's variant of the A10
-- (same GA102 chip); the A10 data sheet's figures are used. Existing rows are left as they are.
INSERT INTO gpu_models (name, memory_gb, bf16_tflops, memory_bandwidth_tbs) VALUES
  ('GB200-NVL-186GB', 186, 2500, 8.0),
  ('GH200-144GB', 144, 989.5, 4.9),
  ('GH200-96GB', 96, 989.5, 4.0),
  ('H200-NVL-141GB', 141, 835.5, 4.8),
  ('H100-NVL-94GB', 94, 835.5, 3.9),
  ('A100-PCIe-80GB', 80, 312, 1.935),
  ('A100-PCIe-40GB', 40, 312, 1.555),
  ('A10G-24GB', 24, 125, 0.6)
ON CONFLICT (name) DO NOTHING;
