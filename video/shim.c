//go:build cgo && !nolibav

#include "shim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

void ie_quiet(void) { av_log_set_level(AV_LOG_FATAL); }

static int fail(int ret, char *err, int errlen, const char *what) {
	char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
	av_strerror(ret, buf, sizeof buf);
	snprintf(err, errlen, "%s: %s", what, buf);
	return ret < 0 ? ret : AVERROR_UNKNOWN;
}

static int failmsg(char *err, int errlen, const char *msg) {
	snprintf(err, errlen, "%s", msg);
	return AVERROR_INVALIDDATA;
}

// open_input opens path quietly and reads its stream information.
static int open_input(const char *path, AVFormatContext **fmt, char *err, int errlen) {
	int ret = avformat_open_input(fmt, path, NULL, NULL);
	if (ret < 0)
		return fail(ret, err, errlen, "open");
	ret = avformat_find_stream_info(*fmt, NULL);
	if (ret < 0) {
		avformat_close_input(fmt);
		return fail(ret, err, errlen, "read stream info");
	}
	return 0;
}

// best_video finds the video stream, leaving out cover art.
static int best_video(AVFormatContext *fmt, char *err, int errlen) {
	int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (idx < 0 || (fmt->streams[idx]->disposition & AV_DISPOSITION_ATTACHED_PIC))
		return failmsg(err, errlen, "no video stream");
	if (fmt->streams[idx]->codecpar->width <= 0 || fmt->streams[idx]->codecpar->height <= 0)
		return failmsg(err, errlen, "video stream has no size");
	return idx;
}

static int best_audio(AVFormatContext *fmt) {
	int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
	if (idx < 0 || fmt->streams[idx]->codecpar->sample_rate <= 0)
		return -1;
	return idx;
}

// rotation is the clockwise turn a player applies, from the display matrix
// (the same rule as ffmpeg's autorotate).
static int rotation(AVStream *st) {
	const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
	if (!m)
		return 0;
	double theta = -av_display_rotation_get((const int32_t *)m);
	if (isnan(theta))
		return 0;
	theta -= 360 * floor(theta / 360 + 0.9 / 360);
	int r = (int)lrint(theta / 90) * 90 % 360;
	return r < 0 ? r + 360 : r;
}

// start_offset is the file's start time in tb, the origin of every pts we
// hand out, so that video and audio keep their distance.
static int64_t start_offset(AVFormatContext *fmt, AVRational tb) {
	if (fmt->start_time == AV_NOPTS_VALUE)
		return 0;
	return av_rescale_q(fmt->start_time, AV_TIME_BASE_Q, tb);
}

static AVRational frame_rate(AVStream *st) {
	AVRational r = st->avg_frame_rate;
	if (r.num <= 0 || r.den <= 0)
		r = st->r_frame_rate;
	if (r.num <= 0 || r.den <= 0)
		r = (AVRational){25, 1};
	return r;
}

typedef struct span {
	int64_t first, last;
	int64_t count;
	int64_t dts;     // last seen
	int64_t jump;    // largest step back of dts
} span;

static void span_add(span *s, const AVPacket *pkt) {
	int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
	s->count++;
	if (pkt->dts != AV_NOPTS_VALUE) {
		if (s->dts != AV_NOPTS_VALUE && s->dts - pkt->dts > s->jump)
			s->jump = s->dts - pkt->dts;
		s->dts = pkt->dts;
	}
	if (ts == AV_NOPTS_VALUE)
		return;
	int64_t end = ts + (pkt->duration > 0 ? pkt->duration : 0);
	if (s->first == AV_NOPTS_VALUE || ts < s->first)
		s->first = ts;
	if (s->last == AV_NOPTS_VALUE || end > s->last)
		s->last = end;
}

int ie_probe_file(const char *path, ie_probe *out, char *err, int errlen) {
	AVFormatContext *fmt = NULL;
	AVPacket *pkt = NULL;
	memset(out, 0, sizeof *out);
	int ret = open_input(path, &fmt, err, errlen);
	if (ret < 0)
		return ret;
	int vi = best_video(fmt, err, errlen);
	if (vi < 0) {
		ret = vi;
		goto end;
	}
	// Still images and text open as one-frame videos through these demuxers.
	const char *name = fmt->iformat->name;
	if (strstr(name, "_pipe") || !strcmp(name, "image2") || !strcmp(name, "tty") || !strcmp(name, "apng")) {
		ret = failmsg(err, errlen, "not a video (an image or text)");
		goto end;
	}
	int ai = best_audio(fmt);
	AVStream *vs = fmt->streams[vi];
	snprintf(out->format, sizeof out->format, "%s", fmt->iformat->name);
	snprintf(out->video_codec, sizeof out->video_codec, "%s", avcodec_get_name(vs->codecpar->codec_id));
	out->rotation = rotation(vs);
	out->width = vs->codecpar->width;
	out->height = vs->codecpar->height;
	if (out->rotation == 90 || out->rotation == 270) {
		out->width = vs->codecpar->height;
		out->height = vs->codecpar->width;
	}
	AVRational fr = frame_rate(vs);
	out->fps_num = fr.num;
	out->fps_den = fr.den;
	if (ai >= 0) {
		AVStream *as = fmt->streams[ai];
		out->has_audio = 1;
		snprintf(out->audio_codec, sizeof out->audio_codec, "%s", avcodec_get_name(as->codecpar->codec_id));
		out->audio_rate = as->codecpar->sample_rate;
		out->audio_channels = as->codecpar->ch_layout.nb_channels;
	}

	// Count the packets rather than trusting duration*fps, which is wrong
	// for variable frame rate; it reads the file but decodes nothing.
	span v = {AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0, AV_NOPTS_VALUE, 0};
	span a = v;
	pkt = av_packet_alloc();
	if (!pkt) {
		ret = fail(AVERROR(ENOMEM), err, errlen, "probe");
		goto end;
	}
	while ((ret = av_read_frame(fmt, pkt)) >= 0) {
		if (pkt->stream_index == vi && pkt->size > 0)
			span_add(&v, pkt);
		else if (pkt->stream_index == ai)
			span_add(&a, pkt);
		av_packet_unref(pkt);
	}
	if (ret != AVERROR_EOF && v.count == 0) {
		fail(ret, err, errlen, "read");
		goto end;
	}
	ret = 0;
	out->frame_count = v.count;
	if (v.count == 0) {
		ret = failmsg(err, errlen, "video stream has no frames");
		goto end;
	}
	// The last packet often carries no duration; count it as one frame.
	double frame = (double)fr.den / fr.num;
	if (v.first != AV_NOPTS_VALUE) {
		out->duration = (v.last - v.first) * av_q2d(vs->time_base);
		if (out->duration < frame * v.count / 2)
			out->duration = frame * v.count;
	} else {
		out->duration = frame * v.count;
	}
	// Decoding time must not go back: a file that does so was spliced or
	// damaged, and neither its frames nor its sound can be put in order.
	if (v.jump * av_q2d(vs->time_base) > 0.5 || (ai >= 0 && a.jump * av_q2d(fmt->streams[ai]->time_base) > 0.5)) {
		ret = failmsg(err, errlen, "timestamps jump back (damaged or spliced file)");
		goto end;
	}
	if (a.first != AV_NOPTS_VALUE) {
		AVStream *as = fmt->streams[ai];
		out->audio_duration = (a.last - a.first) * av_q2d(as->time_base);
		// Encoder priming (e.g. AAC's 1024 samples) is not heard.
		out->audio_duration -= (double)as->codecpar->initial_padding / as->codecpar->sample_rate;
	}
end:
	av_packet_free(&pkt);
	avformat_close_input(&fmt);
	return ret;
}

struct ie_decoder {
	AVFormatContext *fmt;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	struct SwsContext *sws;
	int vi;
	int rot;
	int w, h;           // decoded size, before rotation
	int64_t offset;     // start time in the stream's time base
	int64_t next_pts;   // guess for frames without a timestamp
	int64_t last_pts;
	int64_t step;       // one frame in the stream's time base
	int flushing;
	uint8_t *tmp;       // unrotated RGBA when rot != 0
	int tmp_stride;
};

int ie_dec_open(const char *path, int threads, ie_decoder **out, char *err, int errlen) {
	ie_decoder *d = av_mallocz(sizeof *d);
	if (!d)
		return fail(AVERROR(ENOMEM), err, errlen, "decoder");
	*out = NULL;
	int ret = open_input(path, &d->fmt, err, errlen);
	if (ret < 0)
		goto bad;
	ret = d->vi = best_video(d->fmt, err, errlen);
	if (ret < 0)
		goto bad;
	AVStream *st = d->fmt->streams[d->vi];
	const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
	if (!codec) {
		ret = failmsg(err, errlen, "no decoder for this video codec");
		goto bad;
	}
	d->dec = avcodec_alloc_context3(codec);
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	if (!d->dec || !d->pkt || !d->frame) {
		ret = fail(AVERROR(ENOMEM), err, errlen, "decoder");
		goto bad;
	}
	if ((ret = avcodec_parameters_to_context(d->dec, st->codecpar)) < 0) {
		fail(ret, err, errlen, "decoder parameters");
		goto bad;
	}
	d->dec->thread_count = threads;
	d->dec->pkt_timebase = st->time_base;
	if ((ret = avcodec_open2(d->dec, codec, NULL)) < 0) {
		fail(ret, err, errlen, "open decoder");
		goto bad;
	}
	d->w = st->codecpar->width;
	d->h = st->codecpar->height;
	d->rot = rotation(st);
	d->offset = start_offset(d->fmt, st->time_base);
	AVRational fr = frame_rate(st);
	d->step = av_rescale_q(1, av_inv_q(fr), st->time_base);
	if (d->step < 1)
		d->step = 1;
	d->next_pts = 0;
	d->last_pts = AV_NOPTS_VALUE;
	if (d->rot) {
		d->tmp_stride = d->w * 4;
		d->tmp = av_malloc((size_t)d->tmp_stride * d->h);
		if (!d->tmp) {
			ret = fail(AVERROR(ENOMEM), err, errlen, "decoder");
			goto bad;
		}
	}
	*out = d;
	return 0;
bad:
	ie_dec_close(d);
	return ret;
}

void ie_dec_size(const ie_decoder *d, int *w, int *h, int *tb_num, int *tb_den, int *fr_num, int *fr_den) {
	AVStream *st = d->fmt->streams[d->vi];
	int swap = d->rot == 90 || d->rot == 270;
	*w = swap ? d->h : d->w;
	*h = swap ? d->w : d->h;
	*tb_num = st->time_base.num;
	*tb_den = st->time_base.den;
	AVRational fr = frame_rate(st);
	*fr_num = fr.num;
	*fr_den = fr.den;
}

// rotate turns src (w*h RGBA) clockwise by rot degrees into dst.
static void rotate(const uint8_t *src, int sstride, int w, int h, int rot, uint8_t *dst, int dstride) {
	for (int y = 0; y < h; y++) {
		const uint32_t *s = (const uint32_t *)(src + (size_t)y * sstride);
		for (int x = 0; x < w; x++) {
			int dx, dy;
			switch (rot) {
			case 90:  dx = h - 1 - y; dy = x; break;
			case 180: dx = w - 1 - x; dy = h - 1 - y; break;
			default:  dx = y; dy = w - 1 - x; break; // 270
			}
			*(uint32_t *)(dst + (size_t)dy * dstride + (size_t)dx * 4) = s[x];
		}
	}
}

static int convert(ie_decoder *d, uint8_t *dst, int stride, char *err, int errlen) {
	AVFrame *f = d->frame;
	d->sws = sws_getCachedContext(d->sws, f->width, f->height, f->format, d->w, d->h, AV_PIX_FMT_RGBA,
	                              SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
	if (!d->sws)
		return failmsg(err, errlen, "unsupported pixel format");
	if (f->colorspace == AVCOL_SPC_BT709) {
		int *inv, srcRange, *tbl, dstRange, bri, con, sat;
		if (sws_getColorspaceDetails(d->sws, &inv, &srcRange, &tbl, &dstRange, &bri, &con, &sat) >= 0)
			sws_setColorspaceDetails(d->sws, sws_getCoefficients(SWS_CS_ITU709), srcRange, tbl, dstRange, bri, con, sat);
	}
	uint8_t *out = d->rot ? d->tmp : dst;
	int ostride = d->rot ? d->tmp_stride : stride;
	uint8_t *planes[4] = {out, NULL, NULL, NULL};
	int strides[4] = {ostride, 0, 0, 0};
	sws_scale(d->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides);
	if (d->rot)
		rotate(d->tmp, d->tmp_stride, d->w, d->h, d->rot, dst, stride);
	return 0;
}

int ie_dec_next(ie_decoder *d, uint8_t *dst, int stride, int64_t *pts, char *err, int errlen) {
	for (;;) {
		int ret = avcodec_receive_frame(d->dec, d->frame);
		if (ret == 0) {
			int64_t t = d->frame->best_effort_timestamp;
			t = t == AV_NOPTS_VALUE ? d->next_pts : t - d->offset;
			// x264 refuses pts that do not increase; broken files have them.
			if (d->last_pts != AV_NOPTS_VALUE && t <= d->last_pts)
				t = d->last_pts + 1;
			d->last_pts = t;
			d->next_pts = t + (d->frame->pkt_duration > 0 ? d->frame->pkt_duration : d->step);
			*pts = t;
			ret = convert(d, dst, stride, err, errlen);
			av_frame_unref(d->frame);
			return ret;
		}
		if (ret == AVERROR_EOF)
			return 1;
		if (ret != AVERROR(EAGAIN))
			return fail(ret, err, errlen, "decode");
		if (d->flushing)
			return 1;
		for (;;) {
			ret = av_read_frame(d->fmt, d->pkt);
			if (ret < 0) {
				d->flushing = 1;
				ret = avcodec_send_packet(d->dec, NULL);
				if (ret < 0 && ret != AVERROR_EOF)
					return fail(ret, err, errlen, "decode");
				break;
			}
			if (d->pkt->stream_index != d->vi || d->pkt->size == 0) {
				av_packet_unref(d->pkt);
				continue;
			}
			ret = avcodec_send_packet(d->dec, d->pkt);
			av_packet_unref(d->pkt);
			// A damaged packet is skipped, as players do.
			if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_INVALIDDATA)
				return fail(ret, err, errlen, "decode");
			break;
		}
	}
}

void ie_dec_close(ie_decoder *d) {
	if (!d)
		return;
	sws_freeContext(d->sws);
	av_frame_free(&d->frame);
	av_packet_free(&d->pkt);
	avcodec_free_context(&d->dec);
	avformat_close_input(&d->fmt);
	av_free(d->tmp);
	av_free(d);
}

// AAC sample rates (ISO 14496-3), for choosing an output rate.
static const int aac_rates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 0};

// aac_rate keeps rates of 32 kHz and up that AAC has, and takes other rates
// up to 44.1 or 48 kHz: at low rates a 1024-sample AAC frame lasts so long
// (128 ms at 8 kHz) that the padding at the ends is heard as a shift.
static int aac_rate(int in) {
	for (int i = 0; aac_rates[i] >= 32000; i++)
		if (aac_rates[i] == in)
			return in;
	return in % 11025 == 0 && in <= 44100 ? 44100 : 48000;
}

struct ie_encoder {
	AVFormatContext *out;
	AVCodecContext *venc;
	AVStream *vst;
	AVFrame *yuv;
	AVPacket *pkt;
	struct SwsContext *sws;
	AVRational tb; // of the pts we are given
	int w, h;      // of the frames we are given
	const char *codec;

	// Audio, read from a second demuxer of the source as video advances.
	AVFormatContext *in;
	int ai;
	int64_t aoffset;   // source start time in the audio stream's time base
	AVStream *ast;
	int copy;
	int audio_done;
	double audio_at;   // seconds of source audio read so far
	AVCodecContext *adec, *aenc;
	SwrContext *swr;
	AVAudioFifo *fifo;
	AVFrame *aframe, *aout;
	int64_t apts;      // next output sample, in 1/rate
	int64_t adts;      // last copied dts, in the output time base
	int apts_set;
	AVPacket *apkt;
};

static int write_packets(ie_encoder *e, AVCodecContext *enc, AVStream *st, char *err, int errlen) {
	for (;;) {
		int ret = avcodec_receive_packet(enc, e->pkt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return fail(ret, err, errlen, "encode");
		av_packet_rescale_ts(e->pkt, enc->time_base, st->time_base);
		e->pkt->stream_index = st->index;
		ret = av_interleaved_write_frame(e->out, e->pkt);
		if (ret < 0)
			return fail(ret, err, errlen, "write");
	}
}

static int open_video(ie_encoder *e, const char *name, const char *preset, int w, int h, AVRational tb, AVRational fr,
                      char *err, int errlen) {
	const AVCodec *codec = avcodec_find_encoder_by_name(name);
	if (!codec)
		return failmsg(err, errlen, "encoder not available");
	AVCodecContext *c = avcodec_alloc_context3(codec);
	if (!c)
		return fail(AVERROR(ENOMEM), err, errlen, "encoder");
	c->width = w;
	c->height = h;
	c->pix_fmt = AV_PIX_FMT_YUV420P;
	c->time_base = tb;
	c->framerate = fr;
	c->sample_aspect_ratio = (AVRational){1, 1};
	// What swscale writes with its default coefficients: BT.601, limited range.
	c->colorspace = AVCOL_SPC_SMPTE170M;
	c->color_range = AVCOL_RANGE_MPEG;
	c->color_primaries = AVCOL_PRI_SMPTE170M;
	c->color_trc = AVCOL_TRC_SMPTE170M;
	c->thread_count = 0;
	if (e->out->oformat->flags & AVFMT_GLOBALHEADER)
		c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	AVDictionary *opt = NULL;
	if (strcmp(name, "libx264") == 0) {
		// crf 18 is visually lossless for x264. The preset trades size for
		// speed; Go checks it and picks the default ("veryfast").
		av_dict_set(&opt, "preset", preset, 0);
		av_dict_set(&opt, "crf", "18", 0);
	} else {
		av_dict_set(&opt, "preset", "p4", 0);
		av_dict_set(&opt, "rc", "vbr", 0);
		av_dict_set(&opt, "cq", "19", 0);
	}
	int ret = avcodec_open2(c, codec, &opt);
	av_dict_free(&opt);
	if (ret < 0) {
		avcodec_free_context(&c);
		return fail(ret, err, errlen, "open video encoder");
	}
	e->venc = c;
	e->codec = codec->name;
	return 0;
}

static int open_audio(ie_encoder *e, const char *src, char *err, int errlen) {
	int ret = open_input(src, &e->in, err, errlen);
	if (ret < 0)
		return ret;
	e->ai = best_audio(e->in);
	if (e->ai < 0) {
		avformat_close_input(&e->in);
		return 0;
	}
	AVStream *is = e->in->streams[e->ai];
	e->aoffset = start_offset(e->in, is->time_base);
	e->adts = AV_NOPTS_VALUE;
	e->ast = avformat_new_stream(e->out, NULL);
	e->apkt = av_packet_alloc();
	if (!e->ast || !e->apkt)
		return fail(AVERROR(ENOMEM), err, errlen, "audio");
	if (is->codecpar->codec_id == AV_CODEC_ID_AAC) {
		e->copy = 1;
		if ((ret = avcodec_parameters_copy(e->ast->codecpar, is->codecpar)) < 0)
			return fail(ret, err, errlen, "audio parameters");
		e->ast->codecpar->codec_tag = 0;
		e->ast->time_base = is->time_base;
		return 0;
	}

	const AVCodec *dc = avcodec_find_decoder(is->codecpar->codec_id);
	const AVCodec *ec = avcodec_find_encoder_by_name("aac");
	if (!dc)
		return failmsg(err, errlen, "no decoder for this audio codec");
	if (!ec)
		return failmsg(err, errlen, "aac encoder not available");
	e->adec = avcodec_alloc_context3(dc);
	e->aenc = avcodec_alloc_context3(ec);
	e->aframe = av_frame_alloc();
	e->aout = av_frame_alloc();
	if (!e->adec || !e->aenc || !e->aframe || !e->aout)
		return fail(AVERROR(ENOMEM), err, errlen, "audio");
	if ((ret = avcodec_parameters_to_context(e->adec, is->codecpar)) < 0)
		return fail(ret, err, errlen, "audio parameters");
	e->adec->pkt_timebase = is->time_base;
	if ((ret = avcodec_open2(e->adec, dc, NULL)) < 0)
		return fail(ret, err, errlen, "open audio decoder");

	AVCodecContext *c = e->aenc;
	int ch = e->adec->ch_layout.nb_channels;
	av_channel_layout_default(&c->ch_layout, ch >= 2 ? 2 : 1);
	c->sample_rate = aac_rate(e->adec->sample_rate);
	c->sample_fmt = AV_SAMPLE_FMT_FLTP;
	c->bit_rate = ch >= 2 ? 192000 : 96000;
	c->time_base = (AVRational){1, c->sample_rate};
	if (e->out->oformat->flags & AVFMT_GLOBALHEADER)
		c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	if ((ret = avcodec_open2(c, ec, NULL)) < 0)
		return fail(ret, err, errlen, "open aac encoder");
	if ((ret = avcodec_parameters_from_context(e->ast->codecpar, c)) < 0)
		return fail(ret, err, errlen, "audio parameters");
	e->ast->time_base = c->time_base;

	AVChannelLayout in_layout;
	if (e->adec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || e->adec->ch_layout.nb_channels == 0)
		av_channel_layout_default(&in_layout, ch > 0 ? ch : 1);
	else
		av_channel_layout_copy(&in_layout, &e->adec->ch_layout);
	ret = swr_alloc_set_opts2(&e->swr, &c->ch_layout, c->sample_fmt, c->sample_rate,
	                          &in_layout, e->adec->sample_fmt, e->adec->sample_rate, 0, NULL);
	av_channel_layout_uninit(&in_layout);
	if (ret < 0 || (ret = swr_init(e->swr)) < 0)
		return fail(ret, err, errlen, "resampler");
	e->fifo = av_audio_fifo_alloc(c->sample_fmt, c->ch_layout.nb_channels, c->frame_size * 4);
	if (!e->fifo)
		return fail(AVERROR(ENOMEM), err, errlen, "audio");
	return 0;
}

// encode_fifo sends the resampled audio, frame_size samples at a time (all
// that is left when flushing), to the AAC encoder.
static int encode_fifo(ie_encoder *e, int flush, char *err, int errlen) {
	AVCodecContext *c = e->aenc;
	while (av_audio_fifo_size(e->fifo) >= c->frame_size || (flush && av_audio_fifo_size(e->fifo) > 0)) {
		int n = FFMIN(av_audio_fifo_size(e->fifo), c->frame_size);
		AVFrame *f = e->aout;
		av_frame_unref(f);
		f->nb_samples = n;
		f->format = c->sample_fmt;
		f->sample_rate = c->sample_rate;
		int ret = av_channel_layout_copy(&f->ch_layout, &c->ch_layout);
		if (ret < 0 || (ret = av_frame_get_buffer(f, 0)) < 0)
			return fail(ret, err, errlen, "audio frame");
		if (av_audio_fifo_read(e->fifo, (void **)f->data, n) < n)
			return failmsg(err, errlen, "audio fifo");
		f->pts = e->apts;
		e->apts += n;
		if ((ret = avcodec_send_frame(c, f)) < 0)
			return fail(ret, err, errlen, "encode audio");
		if ((ret = write_packets(e, c, e->ast, err, errlen)) < 0)
			return ret;
	}
	return 0;
}

// resample adds f (NULL to drain the resampler) to the fifo.
static int resample(ie_encoder *e, AVFrame *f, char *err, int errlen) {
	AVCodecContext *c = e->aenc;
	int in = f ? f->nb_samples : 0;
	int max = swr_get_out_samples(e->swr, in);
	if (max <= 0)
		return 0;
	uint8_t **buf = NULL;
	int ret = av_samples_alloc_array_and_samples(&buf, NULL, c->ch_layout.nb_channels, max, c->sample_fmt, 0);
	if (ret < 0)
		return fail(ret, err, errlen, "audio buffer");
	int n = swr_convert(e->swr, buf, max, f ? (const uint8_t **)f->extended_data : NULL, in);
	if (n > 0 && av_audio_fifo_write(e->fifo, (void **)buf, n) < n)
		n = AVERROR(ENOMEM);
	av_freep(&buf[0]);
	av_freep(&buf);
	if (n < 0)
		return fail(n, err, errlen, "resample");
	return 0;
}

static int decode_audio(ie_encoder *e, AVPacket *pkt, char *err, int errlen) {
	int ret = avcodec_send_packet(e->adec, pkt);
	if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA)
		return fail(ret, err, errlen, "decode audio");
	for (;;) {
		ret = avcodec_receive_frame(e->adec, e->aframe);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret == AVERROR_INVALIDDATA)
			continue;
		if (ret < 0)
			return fail(ret, err, errlen, "decode audio");
		if (!e->apts_set) {
			// The first sample keeps its place relative to the video; after
			// it samples are counted, so gaps do not break the AAC stream.
			int64_t t = e->aframe->best_effort_timestamp;
			AVRational itb = e->in->streams[e->ai]->time_base;
			e->apts = t == AV_NOPTS_VALUE ? 0 : av_rescale_q(t - e->aoffset, itb, e->aenc->time_base);
			e->apts_set = 1;
		}
		ret = resample(e, e->aframe, err, errlen);
		av_frame_unref(e->aframe);
		if (ret < 0)
			return ret;
		if ((ret = encode_fifo(e, 0, err, errlen)) < 0)
			return ret;
	}
}

// pump moves source audio into the output until it is past until seconds
// (everything when until < 0), so that the muxer can interleave.
static int pump_audio(ie_encoder *e, double until, char *err, int errlen) {
	if (!e->in || e->audio_done)
		return 0;
	AVStream *is = e->in->streams[e->ai];
	while (until < 0 || e->audio_at <= until) {
		int ret = av_read_frame(e->in, e->apkt);
		if (ret < 0) {
			e->audio_done = 1;
			if (e->copy)
				return 0;
			if ((ret = decode_audio(e, NULL, err, errlen)) < 0)
				return ret;
			if ((ret = resample(e, NULL, err, errlen)) < 0)
				return ret;
			if ((ret = encode_fifo(e, 1, err, errlen)) < 0)
				return ret;
			if ((ret = avcodec_send_frame(e->aenc, NULL)) < 0)
				return fail(ret, err, errlen, "encode audio");
			return write_packets(e, e->aenc, e->ast, err, errlen);
		}
		if (e->apkt->stream_index != e->ai) {
			av_packet_unref(e->apkt);
			continue;
		}
		int64_t ts = e->apkt->pts != AV_NOPTS_VALUE ? e->apkt->pts : e->apkt->dts;
		if (ts != AV_NOPTS_VALUE)
			e->audio_at = (ts - e->aoffset) * av_q2d(is->time_base);
		if (e->copy) {
			if (e->apkt->pts != AV_NOPTS_VALUE)
				e->apkt->pts -= e->aoffset;
			if (e->apkt->dts != AV_NOPTS_VALUE)
				e->apkt->dts -= e->aoffset;
			av_packet_rescale_ts(e->apkt, is->time_base, e->ast->time_base);
			// The muxer refuses a dts that does not increase; such a packet
			// of a damaged file is dropped.
			if (e->apkt->dts != AV_NOPTS_VALUE) {
				if (e->adts != AV_NOPTS_VALUE && e->apkt->dts <= e->adts) {
					av_packet_unref(e->apkt);
					continue;
				}
				e->adts = e->apkt->dts;
			}
			e->apkt->stream_index = e->ast->index;
			e->apkt->pos = -1;
			ret = av_interleaved_write_frame(e->out, e->apkt);
			if (ret < 0)
				return fail(ret, err, errlen, "write audio");
		} else {
			ret = decode_audio(e, e->apkt, err, errlen);
			av_packet_unref(e->apkt);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int ie_enc_open(const char *path, const char *audio_src, const char *codec, const char *preset, int w, int h,
                int tb_num, int tb_den, int fr_num, int fr_den, ie_encoder **out, char *err, int errlen) {
	*out = NULL;
	if (w < 2 || h < 2)
		return failmsg(err, errlen, "frame too small to encode");
	ie_encoder *e = av_mallocz(sizeof *e);
	if (!e)
		return fail(AVERROR(ENOMEM), err, errlen, "encoder");
	e->w = w;
	e->h = h;
	e->tb = (AVRational){tb_num, tb_den};
	int ret = avformat_alloc_output_context2(&e->out, NULL, "matroska", path);
	if (ret < 0) {
		fail(ret, err, errlen, "create output");
		goto bad;
	}
	// 4:2:0 needs even sizes; an odd last row or column is cropped.
	int ew = w & ~1, eh = h & ~1;
	AVRational fr = {fr_num, fr_den};
	ret = open_video(e, codec, preset, ew, eh, e->tb, fr, err, errlen);
	if (ret < 0 && strcmp(codec, "libx264") != 0)
		ret = open_video(e, "libx264", preset, ew, eh, e->tb, fr, err, errlen);
	if (ret < 0)
		goto bad;
	e->vst = avformat_new_stream(e->out, NULL);
	e->pkt = av_packet_alloc();
	e->yuv = av_frame_alloc();
	if (!e->vst || !e->pkt || !e->yuv) {
		ret = fail(AVERROR(ENOMEM), err, errlen, "encoder");
		goto bad;
	}
	if ((ret = avcodec_parameters_from_context(e->vst->codecpar, e->venc)) < 0) {
		fail(ret, err, errlen, "video parameters");
		goto bad;
	}
	e->vst->time_base = e->tb;
	e->vst->avg_frame_rate = fr;
	e->yuv->format = AV_PIX_FMT_YUV420P;
	e->yuv->width = ew;
	e->yuv->height = eh;
	if ((ret = av_frame_get_buffer(e->yuv, 0)) < 0) {
		fail(ret, err, errlen, "frame");
		goto bad;
	}
	e->sws = sws_getContext(ew, eh, AV_PIX_FMT_RGBA, ew, eh, AV_PIX_FMT_YUV420P, SWS_BICUBIC | SWS_ACCURATE_RND,
	                        NULL, NULL, NULL);
	if (!e->sws) {
		ret = failmsg(err, errlen, "color converter");
		goto bad;
	}
	if (audio_src && *audio_src && (ret = open_audio(e, audio_src, err, errlen)) < 0)
		goto bad;
	if ((ret = avio_open(&e->out->pb, path, AVIO_FLAG_WRITE)) < 0) {
		fail(ret, err, errlen, "create output");
		goto bad;
	}
	if ((ret = avformat_write_header(e->out, NULL)) < 0) {
		fail(ret, err, errlen, "write header");
		goto bad;
	}
	*out = e;
	return 0;
bad:
	ie_enc_close(e);
	return ret;
}

const char *ie_enc_codec(const ie_encoder *e) { return e->codec; }

int ie_enc_write(ie_encoder *e, const uint8_t *rgba, int stride, int64_t pts, char *err, int errlen) {
	int ret = av_frame_make_writable(e->yuv);
	if (ret < 0)
		return fail(ret, err, errlen, "frame");
	const uint8_t *src[4] = {rgba, NULL, NULL, NULL};
	int strides[4] = {stride, 0, 0, 0};
	sws_scale(e->sws, src, strides, 0, e->yuv->height, e->yuv->data, e->yuv->linesize);
	e->yuv->pts = pts;
	if ((ret = avcodec_send_frame(e->venc, e->yuv)) < 0)
		return fail(ret, err, errlen, "encode");
	if ((ret = write_packets(e, e->venc, e->vst, err, errlen)) < 0)
		return ret;
	return pump_audio(e, pts * av_q2d(e->tb) + 1.0, err, errlen);
}

int ie_enc_finish(ie_encoder *e, char *err, int errlen) {
	int ret = avcodec_send_frame(e->venc, NULL);
	if (ret < 0)
		return fail(ret, err, errlen, "encode");
	if ((ret = write_packets(e, e->venc, e->vst, err, errlen)) < 0)
		return ret;
	if ((ret = pump_audio(e, -1, err, errlen)) < 0)
		return ret;
	if ((ret = av_write_trailer(e->out)) < 0)
		return fail(ret, err, errlen, "write trailer");
	return 0;
}

void ie_enc_close(ie_encoder *e) {
	if (!e)
		return;
	if (e->out) {
		if (e->out->pb)
			avio_closep(&e->out->pb);
		avformat_free_context(e->out);
	}
	avcodec_free_context(&e->venc);
	avcodec_free_context(&e->adec);
	avcodec_free_context(&e->aenc);
	av_frame_free(&e->yuv);
	av_frame_free(&e->aframe);
	av_frame_free(&e->aout);
	av_packet_free(&e->pkt);
	av_packet_free(&e->apkt);
	sws_freeContext(e->sws);
	swr_free(&e->swr);
	if (e->fifo)
		av_audio_fifo_free(e->fifo);
	avformat_close_input(&e->in);
	av_free(e);
}
