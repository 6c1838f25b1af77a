"""Log-mel front-end and feature normalisation, as ``nn.Module``s.

Both run on whatever device holds them, on batches, so spectrograms are computed where
the network runs (CPU or GPU), never per file in a data loader.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

from deep_audio.config import FrontEndConfig
from deep_audio.errors import ConfigError, DeepAudioError


class LogMel(nn.Module):
    """Waveform to log-power mel spectrogram in dB.

    Parameters
    ----------
    sample_rate : int
        Rate of the input waveform in Hz.
    n_fft : int
        FFT size in samples; gives ``n_fft // 2 + 1`` frequency bins before the mel bank.
    win_length : int
        Hann window length in samples (<= ``n_fft``).
    hop_length : int
        Samples between frames. With centred frames a waveform of ``n`` samples gives
        ``n // hop_length + 1`` frames.
    n_mels : int
        Mel bands (HTK scale, Slaney-normalised triangles).
    f_min, f_max : float
        Band edges in Hz; ``f_max=None`` is ``sample_rate / 2``.
    top_db_floor : float
        Power floor in dB relative to 1.0, so silence maps to a finite value.

    Shapes: ``(..., samples)`` in, ``(..., n_mels, frames)`` out. Always computed in
    float32, also inside an autocast region, because low-precision FFTs lose the quiet
    bands.
    """

    def __init__(self, sample_rate: int, *, n_fft: int, win_length: int, hop_length: int,
                 n_mels: int, f_min: float = 0.0, f_max: float | None = None,
                 top_db_floor: float = -100.0):
        super().__init__()
        if win_length > n_fft:
            raise ConfigError(f"win_length={win_length} must be <= n_fft={n_fft}")
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win_length,
            hop_length=hop_length, f_min=f_min, f_max=f_max, n_mels=n_mels, power=2.0,
            norm="slaney", center=True, pad_mode="constant")
        self.amin = 10.0 ** (top_db_floor / 10.0)

    @classmethod
    def from_config(cls, config: FrontEndConfig) -> LogMel:
        return cls(config.sample_rate, n_fft=config.n_fft, win_length=config.win_length,
                   hop_length=config.hop_length, n_mels=config.n_mels, f_min=config.f_min,
                   f_max=config.f_max)

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for a waveform of ``n_samples`` samples."""
        return n_samples // self.hop_length + 1

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        with torch.autocast(waveform.device.type, enabled=False):
            power = self.mel(waveform.float())
            return 10.0 * torch.log10(power.clamp(min=self.amin))


class Normalize(nn.Module):
    """Per-band standardisation with statistics of the training set.

    The mean and standard deviation are buffers, so they travel in the model's
    ``state_dict`` and with ``.to(device)``. Shapes: ``(..., n_mels, frames)`` in and out.
    """

    def __init__(self, n_mels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp(min=1e-5))

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return (spectrogram - self.mean[:, None]) / self.std[:, None]


@torch.no_grad()
def band_statistics(front_end: LogMel, batches, device: torch.device | str = "cpu"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation per mel band over every frame of ``batches``.

    ``batches`` yields waveforms ``(batch, samples)`` (or ``(waveform, label)`` pairs);
    sums are kept in float64 so a large training set does not lose precision.
    Returns two float32 tensors of shape ``(n_mels,)``.
    """
    total = torch.zeros(front_end.n_mels, dtype=torch.float64)
    total_sq = torch.zeros(front_end.n_mels, dtype=torch.float64)
    count = 0
    for batch in batches:
        waveform = batch[0] if isinstance(batch, (tuple, list)) else batch
        spec = front_end(waveform.to(device)).double().cpu()  # (batch, n_mels, frames)
        total += spec.sum(dim=(0, 2))
        total_sq += (spec ** 2).sum(dim=(0, 2))
        count += spec.shape[0] * spec.shape[2]
    if count == 0:
        raise DeepAudioError("band_statistics needs at least one waveform")
    mean = total / count
    std = (total_sq / count - mean ** 2).clamp(min=0.0).sqrt()
    return mean.float(), std.float()
