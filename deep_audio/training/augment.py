"""Training-time augmentation, applied to whole batches on the training device.

Three places in the training step, in this order (see
:func:`deep_audio.training.loop.train_one_epoch`):

1. on the waveform, before the front-end: an excerpt of a background recording mixed in
   at a random signal-to-noise ratio, a random gain, a random equaliser (the FilterAugment
   of the DCASE task 4 baselines, on the waveform so every backbone's front end sees it)
   and a random circular time shift per segment (:meth:`Augmentation.waveform`);
2. on the normalised log-mel: a random stretch in time, a frame model's frame targets
   stretched with it (:meth:`Augmentation.stretch`); then a random shift along the mel
   bands and SpecAugment time and frequency masks; vacated and masked cells are set to 0,
   the training-set mean (:meth:`Augmentation.spectrogram`, torchaudio's masking
   transforms);
3. on the features and the targets: mixup, which mixes each segment with another one of
   the batch and turns the targets into class probabilities (:meth:`Augmentation.mixup`).

Each kind is off when its setting is 0, and the module does nothing in eval mode, so
validation and inference never see augmented input. Randomness comes from torch's
global generator, which ``train_model`` seeds.
"""

from __future__ import annotations

import math

import torch
import torchaudio
from torch import nn

from deep_audio.config import AugmentationConfig, FrontEndConfig, seconds_to_samples
from deep_audio.data.backgrounds import BackgroundBank


class Augmentation(nn.Module):
    """Background mixing, random gain, equaliser, time shift, SpecAugment masks and mixup
    for training batches.

    Parameters
    ----------
    backgrounds : BackgroundBank, optional
        Recordings to mix in (:func:`deep_audio.data.backgrounds.load_backgrounds`, at
        the waveforms' rate); ``None`` mixes nothing. A segment's excerpt comes from one
        recording, drawn with a probability proportional to its length, from a random
        start, the recording repeated when it is shorter than the segment. The targets
        stay as they are: a background holds none of the classes.
    background_snr_db : (float, float)
        The segment's RMS over the excerpt's, in dB, drawn uniformly in this range.
    background_probability : float
        Chance that a segment gets a background.
    gain_db : float
        Each segment is scaled by a gain drawn uniformly in ``[-gain_db, +gain_db]`` dB.
    filter_db : float
        Random equaliser: each segment's spectrum is weighted by a curve through
        ``filter_bands + 1`` gains drawn uniformly in ``[-filter_db, +filter_db]`` dB,
        placed at 0 Hz, the Nyquist frequency and ``filter_bands - 1`` random frequencies
        between, linear in between on the mel scale (FilterAugment's "linear" type, Nam et
        al., ICASSP 2022). It changes the balance of low and high bands as another
        microphone, room or instrument would; ``sample_rate`` places the mel scale.
    filter_bands : int
        Bands of the random equaliser (at least 1).
    sample_rate : int
        Rate of the waveforms in Hz (only the equaliser uses it).
    time_shift_samples : int
        Each segment is rolled circularly by a whole number of samples drawn uniformly in
        ``[-time_shift_samples, +time_shift_samples]``.
    time_stretch : float
        Each segment's log-mel image is stretched in time by a factor drawn log-uniformly
        in ``[1 / (1 + time_stretch), 1 + time_stretch]``, from its start (what a longer or
        shorter take of each sound, and of the background, would give); frames stretched
        past the end are cut, the end of a shrunk segment is 0. A frame model's frame
        targets are stretched with it.
    freq_shift_bands : int
        Each segment's log-mel image is shifted along the mel axis by a whole number of
        bands drawn uniformly in ``[-freq_shift_bands, +freq_shift_bands]`` (a pitch
        change of a few percent, as another instrument of the same kind would sound).
    spec_time_masks, spec_time_mask_frames : int
        Number of time masks per segment and the widest one, in frames.
    spec_freq_masks, spec_freq_mask_bands : int
        Number of frequency masks per segment and the widest one, in mel bands.
    mixup_alpha : float
        Mixing weights are drawn from ``Beta(mixup_alpha, mixup_alpha)``, one per batch.

    Shapes: waveforms ``(batch, samples)``; features ``(batch, 1, frames, n_mels)``
    (the output of :meth:`deep_audio.models.Classifier.features`); targets
    ``(batch,)`` class indices in, ``(batch, n_classes)`` probabilities out of mixup.

    Examples
    --------
    >>> augment = Augmentation(gain_db=6.0).train()
    >>> augment.waveform(torch.ones(2, 4)).shape
    torch.Size([2, 4])
    >>> bool((augment.eval().waveform(torch.ones(2, 4)) == 1).all())
    True
    """

    def __init__(self, *, backgrounds: BackgroundBank | None = None,
                 background_snr_db: tuple[float, float] = (5.0, 20.0),
                 background_probability: float = 0.5,
                 gain_db: float = 0.0, filter_db: float = 0.0,
                 filter_bands: int = 4, sample_rate: int = 16000,
                 time_shift_samples: int = 0, time_stretch: float = 0.0,
                 freq_shift_bands: int = 0,
                 spec_time_masks: int = 0, spec_time_mask_frames: int = 0,
                 spec_freq_masks: int = 0, spec_freq_mask_bands: int = 0,
                 mixup_alpha: float = 0.0):
        super().__init__()
        self.background_snr_db = tuple(background_snr_db)
        self.background_probability = (background_probability if backgrounds is not None
                                       else 0.0)
        # buffers, so that .to(device) moves the bank with the module
        for name in ("samples", "starts", "lengths"):
            bank = getattr(backgrounds, name) if backgrounds is not None else None
            self.register_buffer(f"background_{name}", bank, persistent=False)
        self.gain_db = gain_db
        self.filter_db = filter_db
        self.filter_bands = max(1, int(filter_bands))
        self.sample_rate = sample_rate
        self.time_shift_samples = time_shift_samples
        self.time_stretch = time_stretch
        self.freq_shift_bands = freq_shift_bands
        self.spec_time_masks = spec_time_masks
        self.spec_freq_masks = spec_freq_masks
        self.mixup_alpha = mixup_alpha
        self.time_masking = torchaudio.transforms.TimeMasking(spec_time_mask_frames,
                                                              iid_masks=True)
        self.freq_masking = torchaudio.transforms.FrequencyMasking(spec_freq_mask_bands,
                                                                   iid_masks=True)

    @classmethod
    def from_config(cls, config: AugmentationConfig, front_end: FrontEndConfig,
                    backgrounds: BackgroundBank | None = None) -> Augmentation:
        """Settings in seconds converted to samples and frames at the front-end's rates;
        ``backgrounds``: ``config.background_folder`` loaded at the front end's rate."""
        return cls(backgrounds=backgrounds, background_snr_db=config.background_snr_db,
                   background_probability=config.background_probability,
                   gain_db=config.gain_db, filter_db=config.filter_db,
                   filter_bands=config.filter_bands, sample_rate=front_end.sample_rate,
                   time_shift_samples=seconds_to_samples(config.time_shift_seconds,
                                                         front_end.sample_rate),
                   time_stretch=config.time_stretch,
                   freq_shift_bands=config.freq_shift_bands,
                   spec_time_masks=config.spec_time_masks,
                   spec_time_mask_frames=seconds_to_samples(config.spec_time_mask_seconds,
                                                            front_end.sample_rate)
                   // front_end.hop_length,
                   spec_freq_masks=config.spec_freq_masks,
                   spec_freq_mask_bands=config.spec_freq_mask_bands,
                   mixup_alpha=config.mixup_alpha)

    @property
    def enabled(self) -> bool:
        """Whether any kind of augmentation is switched on."""
        return bool(self.background_probability or self.gain_db or self.filter_db
                    or self.time_shift_samples
                    or self.time_stretch or self.freq_shift_bands or self.spec_time_masks
                    or self.spec_freq_masks or self.mixup_alpha)

    @property
    def masks_spectrogram(self) -> bool:
        """A stretch, band shift or SpecAugment is on: the features must be a log-mel
        image."""
        return bool(self.time_stretch or self.freq_shift_bands or self.spec_time_masks
                    or self.spec_freq_masks)

    def waveform(self, waveform: torch.Tensor) -> torch.Tensor:
        """Background, random gain, equaliser and circular time shift, ``(batch, samples)``
        in and out."""
        if not self.training:
            return waveform
        batch, n_samples = waveform.shape
        if self.background_probability:
            waveform = self.mix_background(waveform)
        if self.gain_db:
            decibels = (torch.rand(batch, 1, device=waveform.device) * 2 - 1) * self.gain_db
            waveform = waveform * 10.0 ** (decibels / 20.0)
        if self.filter_db:
            waveform = self.random_filter(waveform)
        if self.time_shift_samples:
            shifts = torch.randint(-self.time_shift_samples, self.time_shift_samples + 1,
                                   (batch, 1), device=waveform.device)
            index = (torch.arange(n_samples, device=waveform.device) - shifts) % n_samples
            waveform = waveform.gather(1, index)
        return waveform

    def mix_background(self, waveform: torch.Tensor) -> torch.Tensor:
        """Each segment, with ``background_probability``, plus a background excerpt at an
        SNR drawn from ``background_snr_db``; ``(batch, samples)`` in and out."""
        batch, n_samples = waveform.shape
        device = waveform.device
        recording = torch.multinomial(self.background_lengths.float(), batch,
                                      replacement=True)  # longer recordings more often
        lengths = self.background_lengths[recording]
        offsets = (torch.rand(batch, device=device) * lengths).long()
        within = (offsets[:, None] + torch.arange(n_samples, device=device)) % lengths[:, None]
        excerpt = self.background_samples[self.background_starts[recording, None] + within]
        low, high = self.background_snr_db
        snr_db = low + torch.rand(batch, 1, device=device) * (high - low)
        signal_rms = waveform.float().pow(2).mean(1, keepdim=True).sqrt()
        excerpt_rms = excerpt.pow(2).mean(1, keepdim=True).sqrt().clamp(min=1e-8)
        scale = signal_rms / excerpt_rms * 10.0 ** (-snr_db / 20.0)
        chosen = torch.rand(batch, 1, device=device) < self.background_probability
        return waveform + (excerpt * scale * chosen).to(waveform.dtype)

    def filter_gains_db(self, batch: int, n_bins: int, device: torch.device | str = "cpu"
                        ) -> torch.Tensor:
        """Random equaliser curves in dB over ``n_bins`` bins from 0 Hz to the Nyquist
        frequency, ``(batch, n_bins)``."""
        bins_hz = torch.linspace(0, self.sample_rate / 2, n_bins, device=device)
        bins_mel = torch.log10(1.0 + bins_hz / 700.0)  # HTK mel scale, up to a factor
        bins_mel = bins_mel / bins_mel[-1]  # 0 at 0 Hz, 1 at the Nyquist frequency
        inner = torch.rand(batch, self.filter_bands - 1, device=device).sort(dim=1).values
        knots = torch.cat([torch.zeros(batch, 1, device=device), inner,
                           torch.ones(batch, 1, device=device)], dim=1)
        gains = (torch.rand(batch, self.filter_bands + 1, device=device) * 2 - 1
                 ) * self.filter_db
        right = torch.searchsorted(knots, bins_mel.expand(batch, n_bins).contiguous()
                                   ).clamp(1, self.filter_bands)
        x0, x1 = knots.gather(1, right - 1), knots.gather(1, right)
        y0, y1 = gains.gather(1, right - 1), gains.gather(1, right)
        weight = ((bins_mel - x0) / (x1 - x0).clamp(min=1e-6)).clamp(0, 1)
        return y0 + weight * (y1 - y0)

    def random_filter(self, waveform: torch.Tensor) -> torch.Tensor:
        """The random equaliser of ``filter_db``: ``(batch, samples)`` in and out."""
        with torch.autocast(waveform.device.type, enabled=False):
            spectrum = torch.fft.rfft(waveform.float())
            gains_db = self.filter_gains_db(waveform.shape[0], spectrum.shape[-1],
                                            waveform.device)
            filtered = torch.fft.irfft(spectrum * 10.0 ** (gains_db / 20.0),
                                       n=waveform.shape[-1])
        return filtered.to(waveform.dtype)

    def stretch(self, features: torch.Tensor, target: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """The random time stretch of ``time_stretch``; features ``(batch, 1, frames,
        n_mels)`` in and out. A frame model's target, ``(batch, target_frames + 1,
        n_classes)`` (frames, then the clip), has its frames stretched by the same factor;
        other targets are returned as they are."""
        if not self.training or not self.time_stretch:
            return features, target
        limit = math.log1p(self.time_stretch)
        factors = torch.exp((torch.rand(features.shape[0], device=features.device) * 2 - 1)
                            * limit)
        return stretch_time(features, target, factors)

    def spectrogram(self, features: torch.Tensor) -> torch.Tensor:
        """Band shift and SpecAugment masks, ``(batch, 1, frames, n_mels)`` in and out;
        vacated and masked cells are 0."""
        if not self.training:
            return features
        if self.freq_shift_bands:
            features = self.shift_bands(features)
        masked = features.transpose(-1, -2)  # torchaudio's (..., freq, time)
        for _ in range(self.spec_time_masks):
            masked = self.time_masking(masked)
        for _ in range(self.spec_freq_masks):
            masked = self.freq_masking(masked)
        return masked.transpose(-1, -2)

    def shift_bands(self, features: torch.Tensor) -> torch.Tensor:
        """Each segment shifted by its own number of mel bands; bands shifted in are 0."""
        batch, n_mels = features.shape[0], features.shape[-1]
        shifts = torch.randint(-self.freq_shift_bands, self.freq_shift_bands + 1, (batch, 1),
                               device=features.device)
        source = torch.arange(n_mels, device=features.device) - shifts  # (batch, n_mels)
        per_segment = (batch, *[1] * (features.dim() - 2), n_mels)  # broadcast over frames
        inside = ((source >= 0) & (source < n_mels)).view(per_segment)
        shifted = features.gather(-1, source.clamp(0, n_mels - 1).view(per_segment)
                                  .expand_as(features))
        return torch.where(inside, shifted, torch.zeros_like(shifted))

    def mixup(self, features: torch.Tensor, targets: torch.Tensor, n_classes: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix each segment with a random partner of the batch.

        Returns the mixed features (same shape) and targets as class probabilities,
        ``(batch, n_classes)``; without mixup (or in eval mode) the targets become
        one-hot rows, so the loss is the usual cross-entropy. Multi-label targets (0/1
        rows already) are mixed as they are.
        """
        soft = (targets.to(features.dtype) if targets.is_floating_point()
                else nn.functional.one_hot(targets, n_classes).to(features.dtype))
        if not self.training or not self.mixup_alpha:
            return features, soft
        concentration = torch.tensor(float(self.mixup_alpha), device=features.device)
        weight = torch.distributions.Beta(concentration, concentration).sample()
        partner = torch.randperm(features.shape[0], device=features.device)
        return (weight * features + (1 - weight) * features[partner],
                weight * soft + (1 - weight) * soft[partner])

    def extra_repr(self) -> str:
        background = (f"backgrounds={len(self.background_lengths)} recordings, "
                      f"background_snr_db={self.background_snr_db}, "
                      f"background_probability={self.background_probability}, "
                      if self.background_probability else "")
        return (background + f"gain_db={self.gain_db}, filter_db={self.filter_db}, "
                f"filter_bands={self.filter_bands}, time_shift_samples={self.time_shift_samples}, "
                f"time_stretch={self.time_stretch}, "
                f"freq_shift_bands={self.freq_shift_bands}, "
                f"spec_time_masks={self.spec_time_masks}, "
                f"spec_freq_masks={self.spec_freq_masks}, mixup_alpha={self.mixup_alpha}")


def stretch_time(features: torch.Tensor, target: torch.Tensor, factors: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Stretch each segment in time from its start by its factor (> 1: longer).

    Features ``(batch, 1, frames, n_mels)`` are interpolated linearly (frame ``i`` of the
    result is frame ``i / factor`` of the input); frames past the input's end are 0. A
    frame target ``(batch, target_frames + 1, n_classes)`` takes, for target frame ``j``,
    the input frame under its centre (``floor((j + 0.5) / factor)``), 0 past the end (NaN
    where the input's frames are unknown, a weak clip's); its last row, the clip's, is
    kept. A target of another shape is returned as it is. ``factors``: ``(batch,)``.
    """
    batch = features.shape[0]
    theta = torch.zeros(batch, 2, 3, dtype=features.dtype, device=features.device)
    theta[:, 0, 0] = 1.0  # the mel axis (grid x) as it is
    theta[:, 1, 1] = 1.0 / factors  # the time axis (grid y), from the start
    theta[:, 1, 2] = 1.0 / factors - 1.0
    grid = nn.functional.affine_grid(theta, list(features.shape), align_corners=True)
    stretched = nn.functional.grid_sample(features, grid, mode="bilinear",
                                          padding_mode="zeros", align_corners=True)
    if target.dim() != 3:
        return stretched, target
    frames = target[:, :-1]
    n_frames = frames.shape[1]
    source = ((torch.arange(n_frames, device=target.device) + 0.5)
              / factors[:, None].to(target.device)).floor().long()  # (batch, n_frames)
    inside = (source < n_frames)[..., None]
    taken = frames.gather(1, source.clamp(max=n_frames - 1)[..., None].expand_as(frames))
    past_end = torch.where(frames[:, :1].isnan(), float("nan"), 0.0).expand_as(frames)
    return stretched, torch.cat([torch.where(inside, taken, past_end), target[:, -1:]], dim=1)
