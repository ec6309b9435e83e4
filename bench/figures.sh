#!/usr/bin/env bash
# Reproduces the README's speed figures on this machine (both cores; about an hour).
# Large files go to ${SLING_FIGURES:-/tmp/sling-figures} (about 30 GB); nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${SLING_FIGURES:-/tmp/sling-figures}
mkdir -p "$work"
dotnet build src/Sling.Cli -c Release -v q -nologo >/dev/null
dotnet build bench/Sling.Bench -c Release -v q -nologo >/dev/null
sling() { dotnet src/Sling.Cli/bin/Release/net10.0/Sling.Cli.dll "$@"; }
bench() { dotnet bench/Sling.Bench/bin/Release/net10.0/Sling.Bench.dll "$@"; }
vocab=../shared/tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf

echo "## 1. TinyLlama-1.1B shape, the same GGUF file in both engines"
for type in q4_0 q8_0; do
  [ -f "$work/tinyllama-$type.gguf" ] || sling export-gguf --synthetic tinyllama-1.1b --synthetic-type f32 --type $type --vocab $vocab -o "$work/tinyllama-$type.gguf"
  bench peer --model "$work/tinyllama-$type.gguf" --runs 5
  sling bench -m "$work/tinyllama-$type.gguf" -r 5
done

echo "## 2. The seed's setting (int4 asym, group 128, ratio 0.8) vs llama.cpp's Q4_0 of the same weights"
[ -d "$work/tinyllama-f32" ] || bench hf-folder --shape tinyllama-1.1b --output "$work/tinyllama-f32"
[ -d "$work/tinyllama-int4" ] || sling quantize -m "$work/tinyllama-f32" -o "$work/tinyllama-int4" --bits 4 --group-size 128 --ratio 0.8
sling bench -m "$work/tinyllama-int4" -r 5
[ -f "$work/tinyllama-same-q4_0.gguf" ] || sling export-gguf -m "$work/tinyllama-f32" --type q4_0 --vocab $vocab -o "$work/tinyllama-same-q4_0.gguf"
bench peer --model "$work/tinyllama-same-q4_0.gguf" --runs 5
# Sling on the seed's folder against llama.cpp on its Q4_0, runs alternating.
bench peer --model "$work/tinyllama-same-q4_0.gguf" --sling-model "$work/tinyllama-int4" --runs 8

echo "## 3. The K-quant mixes people download (Q3_K_M, Q4_K_M, Q5_K_M, IQ4_XS, written by llama.cpp's own quantizer) of the same weights"
[ -f "$work/tinyllama-f16.gguf" ] || sling export-gguf -m "$work/tinyllama-f32" --type f16 --vocab $vocab -o "$work/tinyllama-f16.gguf"
[ -f "$work/tinyllama-q4_k_m.gguf" ] || bench llama-quantize --model "$work/tinyllama-f16.gguf" --output "$work/tinyllama-q4_k_m.gguf" --type q4_k_m
bench peer --model "$work/tinyllama-q4_k_m.gguf" --runs 5
sling bench -m "$work/tinyllama-q4_k_m.gguf" -r 5
[ -f "$work/tinyllama-q5_k_m.gguf" ] || bench llama-quantize --model "$work/tinyllama-f16.gguf" --output "$work/tinyllama-q5_k_m.gguf" --type q5_k_m
bench peer --model "$work/tinyllama-q5_k_m.gguf" --runs 5
sling bench -m "$work/tinyllama-q5_k_m.gguf" -r 5
[ -f "$work/tinyllama-q3_k_m.gguf" ] || bench llama-quantize --model "$work/tinyllama-f16.gguf" --output "$work/tinyllama-q3_k_m.gguf" --type q3_k_m
bench peer --model "$work/tinyllama-q3_k_m.gguf" --runs 5
sling bench -m "$work/tinyllama-q3_k_m.gguf" -r 5
[ -f "$work/tinyllama-iq4_xs.gguf" ] || bench llama-quantize --model "$work/tinyllama-f16.gguf" --output "$work/tinyllama-iq4_xs.gguf" --type iq4_xs
bench peer --model "$work/tinyllama-iq4_xs.gguf" --runs 3
[ -f "$work/tinyllama-q5_0.gguf" ] || bench llama-quantize --model "$work/tinyllama-f16.gguf" --output "$work/tinyllama-q5_0.gguf" --type q5_0
bench peer --model "$work/tinyllama-q5_0.gguf" --runs 2
# Q2_K and IQ4_NL (their AVX2 tiles since the eighth session).
for type in q2_k iq4_nl; do
  [ -f "$work/tinyllama-$type.gguf" ] || bench llama-quantize --model "$work/tinyllama-f16.gguf" --output "$work/tinyllama-$type.gguf" --type $type
  bench peer --model "$work/tinyllama-$type.gguf" --runs 3
done

echo "## 4. Phi-2 (its own architecture), the same Q4_0 and Q8_0 files in both engines, and the seed's setting"
[ -d "$work/phi2-f32" ] || bench hf-folder --shape phi-2 --output "$work/phi2-f32"
[ -f "$work/phi2-q4_0.gguf" ] || sling export-gguf -m "$work/phi2-f32" --type q4_0 -o "$work/phi2-q4_0.gguf"
bench peer --model "$work/phi2-q4_0.gguf" --runs 3
sling bench -m "$work/phi2-q4_0.gguf" -r 3
[ -f "$work/phi2-q8_0.gguf" ] || sling export-gguf -m "$work/phi2-f32" --type q8_0 -o "$work/phi2-q8_0.gguf"
bench peer --model "$work/phi2-q8_0.gguf" --runs 3
sling bench -m "$work/phi2-q8_0.gguf" -r 3
[ -d "$work/phi2-int4" ] || sling quantize -m "$work/phi2-f32" -o "$work/phi2-int4" --bits 4 --group-size 128 --ratio 0.8
sling bench -m "$work/phi2-int4" -r 3
bench peer --model "$work/phi2-q4_0.gguf" --sling-model "$work/phi2-int4" --runs 4

echo "## 4b. Deep into a conversation: 1,536 tokens already in the cache (prompt and generation)"
sling bench -m "$work/tinyllama-q4_0.gguf" -r 3 -d 1536
for kv in f32 f16 int8; do sling bench -m "$work/tinyllama-q4_0.gguf" -r 3 -p 256 -n 64 -d 1536 --kv-cache $kv; done

echo "## 5. Other shapes (Sling only)"
sling bench --synthetic qwen2.5-0.5b --type q4_0 -r 3
sling bench --synthetic smollm2-135m --type q4_0 -r 3

echo "## 6. Load and first token: repacking vs the kernel layout from the model cache (files in the page cache)"
for model in tinyllama-q4_0.gguf tinyllama-q8_0.gguf tinyllama-q4_k_m.gguf tinyllama-q3_k_m.gguf tinyllama-q5_k_m.gguf tinyllama-iq4_xs.gguf tinyllama-int4 phi2-q4_0.gguf phi2-int4; do
  echo "### $model"
  sling bench -m "$work/$model" -p 0 -n 0 -r 1 --no-layout-cache | grep '^load'
  for i in 1 2 3; do sling bench -m "$work/$model" -p 0 -n 0 -r 1 | grep '^load'; done
done

echo "## 7. Exec to exit (13-token prompt, one token): dotnet build's binary and a ReadyToRun publish"
dotnet publish src/Sling.Cli -c Release -r linux-x64 -p:PublishReadyToRun=true -o "$work/sling-r2r" -v q -nologo >/dev/null
prompt="The quick brown fox jumps over the lazy dog again"
for binary in src/Sling.Cli/bin/Release/net10.0/Sling.Cli "$work/sling-r2r/Sling.Cli"; do
  echo "### $binary"
  for i in 1 2 3 4 5; do /usr/bin/time -f "%e s" "$binary" run -m "$work/tinyllama-q4_0.gguf" -p "$prompt" -n 1 2>&1 >/dev/null | tail -n 1; done
done

echo "## 8. The assembled VNNI kernels against the .NET path: one product, then whole prompts"
for format in q4_0 q8_0 q4_k; do bench kernel --rows 5632 --cols 2048 --format $format --tokens 64; done
for model in tinyllama-q4_0.gguf tinyllama-q8_0.gguf tinyllama-q4_k_m.gguf; do
  echo "### $model"
  sling bench -m "$work/$model" -p 512 -n 0 -r 3 | grep pp512
  SLING_NO_ASSEMBLED_KERNELS=1 sling bench -m "$work/$model" -p 512 -n 0 -r 3 | grep pp512
done

echo "## 9. AVX2 machines: .NET's AVX-512 off, llama.cpp's AVX2 build (bench peer picks it)"
export DOTNET_EnableAVX512=0
for format in q4_0 q4_k; do bench kernel --rows 5632 --cols 2048 --format $format --tokens 64 --threads 1 --isa avx2; done
bench peer --model "$work/tinyllama-q4_0.gguf" --runs 5
bench peer --model "$work/tinyllama-same-q4_0.gguf" --sling-model "$work/tinyllama-int4" --runs 3
bench peer --model "$work/tinyllama-q8_0.gguf" --runs 3
for type in q4_k_m q3_k_m q5_k_m iq4_xs; do bench peer --model "$work/tinyllama-$type.gguf" --runs 3; done
bench peer --model "$work/phi2-q4_0.gguf" --runs 2
# The older block types (and what llama.cpp's K-quant mixes fall back to where rows are not whole 256-value blocks).
for type in q5_0 q4_1; do
  [ -f "$work/tinyllama-$type.gguf" ] || bench llama-quantize --model "$work/tinyllama-f16.gguf" --output "$work/tinyllama-$type.gguf" --type $type
  bench peer --model "$work/tinyllama-$type.gguf" --runs 3
done
sling bench -m "$work/tinyllama-q4_0.gguf" -p 0 -n 0 -r 1 | grep '^load'
unset DOTNET_EnableAVX512

echo "## 10. Generation's traffic without the model: one row times 100 product-sized matrices from memory, against one matrix of the same bytes"
for format in q4_0 int8; do bench stream --format $format --copies 100 --passes 10; done
bench stream --format q4_0 --rows 8192 --copies 25 --passes 10

echo "## 11. The AVX2 tile kernels' instruction mixes with data in L1, and each form's products as shares of them"
bench ceiling --seconds 4
