package org.netqueue;

public enum Purpose { CLIENT, SERVER }
