// Original file: proto/harmonium/v1/coordinator.proto


export interface Ack {
}

export interface Ack__Output {
}
