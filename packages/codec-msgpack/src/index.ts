export {
  createMsgpackCodec,
  type Int64Mode,
  MsgpackCodec,
  type MsgpackCodecOptions,
  msgpackCodec,
} from './msgpack-codec.js';
